import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough, manualClock } from './support/client.js';
import { respondWith, startOrigin } from './support/origin.js';

describe('freshness', () => {
  test('Age grows with the injected clock and the entry goes stale after max-age', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'v1'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/f'));

    clock.advance(59);
    const fresh = await fetchThrough(cache, origin, cacheRequest('/f'));
    expect(fresh).toMatchObject({ outcome: 'hit', cacheStatus: 'edge451; hit; ttl=1' });
    expect(fresh.headers.age).toBe('59');

    clock.advance(2);
    const expired = await fetchThrough(cache, origin, cacheRequest('/f'));
    expect(expired.outcome).toBe('miss');
    // Without a validator or a stale-* window an expired entry is of no further use: the store dropped it.
    expect(expired.cacheStatus).toBe('edge451; fwd=uri-miss; fwd-status=200; stored; ttl=60');
    expect(origin.count()).toBe(2);
  });

  test("a hit's headers are shared by the hits of one answer, frozen: no reply can change a later one", async () => {
    // Hits inside one second share a kept answer (fresh-answers.ts) and, with it, one frozen head.
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'v1'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/own'));
    const first = await fetchThrough(cache, origin, cacheRequest('/own'));
    expect(first.outcome).toBe('hit');
    expect(first.headersShared).toBe(true);
    expect(Object.isFrozen(first.headers)).toBe(true);
    expect(() => {
      first.headers['x-changed'] = 'yes';
    }).toThrow(TypeError);
    const copy: Record<string, string | string[]> = { ...first.headers, 'cache-control': 'no-store' };
    delete copy['content-length'];
    const second = await fetchThrough(cache, origin, cacheRequest('/own'));
    expect(second.outcome).toBe('hit');
    expect(second.headers).toBe(first.headers);
    expect(second.headers['x-changed']).toBeUndefined();
    expect(second.headers['cache-control']).toBe('max-age=60');
    expect(second.headers['content-length']).toBe('2');
    expect(second.text).toBe('v1');
    // A HEAD shares the head, without the body.
    const head = await fetchThrough(cache, origin, cacheRequest('/own', {}, 'HEAD'));
    expect(head.headers).toBe(first.headers);
    expect(head.body).toBeNull();
    // The next second has its own Date, Age and head.
    clock.advance(1);
    const later = await fetchThrough(cache, origin, cacheRequest('/own'));
    expect(later.headers).not.toBe(first.headers);
    expect(later.headers.age).toBe('1');
    expect(later.headers['cache-control']).toBe('max-age=60');
    expect(origin.count()).toBe(1);
  });

  test('a hit the client validators turn into a 304 gets headers of its own', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60', etag: '"a"' }, 'v1'));
    const cache = createHttpCache({ clock: manualClock() });
    await fetchThrough(cache, origin, cacheRequest('/etag'));
    const shared = await fetchThrough(cache, origin, cacheRequest('/etag'));
    const notModified = await fetchThrough(cache, origin, cacheRequest('/etag', { 'if-none-match': '"a"' }));
    expect(notModified.status).toBe(304);
    expect(notModified.headersShared).toBeUndefined();
    expect(notModified.headers).not.toBe(shared.headers);
    notModified.headers['x-mine'] = 'yes';
    expect(shared.headers['x-mine']).toBeUndefined();
  });

  test("the origin's Age counts against freshness", async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60', age: '50' }, 'x'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/aged'));
    clock.advance(5);
    const hit = await fetchThrough(cache, origin, cacheRequest('/aged'));
    expect(hit.headers.age).toBe('55');
    clock.advance(6);
    expect((await fetchThrough(cache, origin, cacheRequest('/aged'))).outcome).toBe('miss');
  });

  test('s-maxage wins over max-age in a shared cache', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=5, s-maxage=100' }, 'x'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/s'));
    clock.advance(50);
    expect((await fetchThrough(cache, origin, cacheRequest('/s'))).outcome).toBe('hit');
  });

  test('Expires gives freshness relative to the origin Date', async () => {
    const now = Date.now();
    const origin = await startOrigin(
      respondWith(
        200,
        { date: new Date(now).toUTCString(), expires: new Date(now + 120_000).toUTCString() },
        'x',
      ),
    );
    const clock = manualClock(now);
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/e'));
    clock.advance(100);
    expect((await fetchThrough(cache, origin, cacheRequest('/e'))).outcome).toBe('hit');
    clock.advance(30);
    expect((await fetchThrough(cache, origin, cacheRequest('/e'))).outcome).toBe('miss');
  });

  test("a client's Cache-Control and Pragma cannot make the cache go to the origin", async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'x'));
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/c'));
    for (const headers of [
      { 'cache-control': 'no-cache' },
      { 'cache-control': 'max-age=0' },
      { pragma: 'no-cache' },
    ]) {
      expect((await fetchThrough(cache, origin, cacheRequest('/c', headers))).outcome).toBe('hit');
    }
    expect(origin.count()).toBe(1);
  });

  test("a client's no-store is honoured for that request only: passed through, nothing stored (§5.2.1.5)", async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'x'));
    const cache = createHttpCache();
    const secret = await fetchThrough(cache, origin, cacheRequest('/s', { 'cache-control': 'No-Store' }));
    expect(secret).toMatchObject({ outcome: 'bypass', notStored: 'request-no-store', text: 'x' });
    expect(origin.requests[0]?.headers['cache-control']).toBe('No-Store');
    expect(cache.stats.entries).toBe(0);
    await (await fetchThrough(cache, origin, cacheRequest('/s'))).storing;
    expect((await fetchThrough(cache, origin, cacheRequest('/s'))).outcome).toBe('hit');
    expect(origin.count()).toBe(2);
  });

  test("a client's Cache-Control and Pragma never reach the origin on a fill: its answer is stored for everybody", async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60', vary: 'Cache-Control' }, 'x'),
    );
    const cache = createHttpCache();
    const reply = await fetchThrough(
      cache,
      origin,
      cacheRequest('/v', { 'cache-control': 'no-transform', pragma: 'no-cache' }),
    );
    expect(reply.outcome).toBe('miss');
    expect(origin.requests[0]?.headers['cache-control']).toBeUndefined();
    expect(origin.requests[0]?.headers.pragma).toBeUndefined();
    expect((await fetchThrough(cache, origin, cacheRequest('/v'))).outcome).toBe('hit');
  });

  test('#54 workaround: a fresh must-revalidate response is served from cache without asking the origin', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60, must-revalidate', etag: '"1"' }, 'x'),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/m'));
    clock.advance(30);
    expect((await fetchThrough(cache, origin, cacheRequest('/m'))).outcome).toBe('hit');
    expect(origin.count()).toBe(1);
  });

  test('#54 workaround: a fresh must-revalidate answer to a request with Authorization is reused (§3.5 lets it be stored)', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60, must-revalidate' }, 'x'),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    const authorised = cacheRequest('/a', { authorization: 'Bearer t' });
    await (await fetchThrough(cache, origin, authorised)).storing;
    clock.advance(30);
    expect((await fetchThrough(cache, origin, authorised)).outcome).toBe('hit');
    expect(origin.count()).toBe(1);
  });

  test('a proxy-revalidate response is fresh for its max-age (§5.2.2.8 restricts stale reuse only), then never served stale', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60, proxy-revalidate, stale-if-error=600' }, 'x'),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await (await fetchThrough(cache, origin, cacheRequest('/p'))).storing;
    clock.advance(30);
    expect((await fetchThrough(cache, origin, cacheRequest('/p'))).outcome).toBe('hit');
    expect(origin.count()).toBe(1);
    clock.advance(31);
    origin.answer(respondWith(500, {}, 'down'));
    expect(await fetchThrough(cache, origin, cacheRequest('/p'))).toMatchObject({
      status: 500,
      outcome: 'miss',
    });
  });

  test('a stale must-revalidate response is revalidated before use', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60, must-revalidate', etag: '"1"' }, 'x'),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/m'));
    origin.answer(respondWith(304, { 'cache-control': 'max-age=60, must-revalidate', etag: '"1"' }));
    clock.advance(61);
    const reply = await fetchThrough(cache, origin, cacheRequest('/m'));
    expect(reply).toMatchObject({ outcome: 'revalidated', text: 'x' });
    expect(origin.requests[1]?.headers['if-none-match']).toBe('"1"');
  });

  test('a no-cache response with a validator is stored and revalidated on every use', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'no-cache', etag: '"v"' }, 'body'));
    const cache = createHttpCache();
    expect(await (await fetchThrough(cache, origin, cacheRequest('/nc'))).storing).toBe('stored');
    origin.answer(respondWith(304, { etag: '"v"' }));
    for (let round = 0; round < 2; round += 1) {
      const reply = await fetchThrough(cache, origin, cacheRequest('/nc'));
      expect(reply).toMatchObject({ status: 200, outcome: 'revalidated', text: 'body' });
    }
    expect(origin.count()).toBe(3);
  });
});
