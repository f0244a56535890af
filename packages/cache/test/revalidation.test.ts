import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough, manualClock } from './support/client.js';
import { respondWith, startOrigin } from './support/origin.js';

const lastModified = 'Wed, 26 Mar 2025 10:00:00 GMT';

describe('revalidation with the origin', () => {
  test('a 304 refreshes the stored entry: new headers and freshness, the old body', async () => {
    const origin = await startOrigin(
      respondWith(
        200,
        { 'cache-control': 'max-age=10', etag: '"a"', 'x-version': '1', 'content-type': 'text/plain' },
        'body-a',
      ),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/r'));
    clock.advance(11);
    origin.answer(respondWith(304, { 'cache-control': 'max-age=100', etag: '"a"', 'x-version': '2' }));

    const revalidated = await fetchThrough(cache, origin, cacheRequest('/r'));
    expect(revalidated).toMatchObject({ status: 200, outcome: 'revalidated', text: 'body-a' });
    expect(revalidated.cacheStatus).toBe('edge451; fwd=stale; fwd-status=304; stored; ttl=100');
    expect(revalidated.headers).toMatchObject({
      'x-version': '2',
      'content-type': 'text/plain',
      'content-length': '6',
    });
    expect(origin.requests[1]?.headers['if-none-match']).toBe('"a"');

    clock.advance(50);
    expect(await fetchThrough(cache, origin, cacheRequest('/r'))).toMatchObject({
      outcome: 'hit',
      text: 'body-a',
    });
    expect(origin.count()).toBe(2);
  });

  test('a 304 adds the fields it brings to the stored response (RFC 9111 §3.2); its Set-Cookie goes to its own client only', async () => {
    const origin = await startOrigin(
      respondWith(200, { expires: 'Thu, 01 Jan 1970 00:00:00 GMT', etag: '"a"' }, 'old'),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/added'));
    origin.answer(
      respondWith(304, {
        etag: '"a"',
        'cache-control': 'max-age=600',
        'x-added': 'yes',
        'set-cookie': 'id=1',
      }),
    );
    const revalidated = await fetchThrough(cache, origin, cacheRequest('/added'));
    expect(revalidated).toMatchObject({ outcome: 'revalidated', text: 'old' });
    expect(revalidated.cacheStatus).toBe('edge451; fwd=stale; fwd-status=304; stored; ttl=600');
    // The cookie is this client's (its request was the one revalidated), and is never stored.
    expect(revalidated.headers).toMatchObject({
      'cache-control': 'max-age=600',
      'x-added': 'yes',
      'set-cookie': ['id=1'],
    });
    await revalidated.storing;
    clock.advance(300);
    const hit = await fetchThrough(cache, origin, cacheRequest('/added'));
    expect(hit).toMatchObject({ outcome: 'hit', text: 'old' });
    expect(hit.headers).toMatchObject({ 'x-added': 'yes' });
    expect(hit.headers['set-cookie']).toBeUndefined();
    expect(origin.count()).toBe(2);
  });

  test('Last-Modified is revalidated with If-Modified-Since', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=10', 'last-modified': lastModified }, 'x'),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/lm'));
    clock.advance(11);
    origin.answer(respondWith(304, { 'cache-control': 'max-age=10', 'last-modified': lastModified }));
    expect((await fetchThrough(cache, origin, cacheRequest('/lm'))).outcome).toBe('revalidated');
    expect(origin.requests[1]?.headers['if-modified-since']).toBe(lastModified);
  });

  test('a 200 to a revalidation replaces the stored entry', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=10', etag: '"a"' }, 'old'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/n'));
    clock.advance(11);
    origin.answer(respondWith(200, { 'cache-control': 'max-age=10', etag: '"b"' }, 'new'));
    const replaced = await fetchThrough(cache, origin, cacheRequest('/n'));
    expect(replaced).toMatchObject({ outcome: 'miss', text: 'new' });
    expect(replaced.cacheStatus).toBe('edge451; fwd=stale; fwd-status=200; stored; ttl=10');
    await replaced.storing;
    expect(await fetchThrough(cache, origin, cacheRequest('/n'))).toMatchObject({
      outcome: 'hit',
      text: 'new',
    });
    expect(cache.stats.entries).toBe(1);
  });

  test('a stale entry whose origin now answers private is dropped, not kept for stale-if-error', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=10, stale-if-error=600', etag: '"a"' }, 'public'),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/p'));
    clock.advance(11);
    origin.answer(respondWith(200, { 'cache-control': 'private' }, 'mine'));
    expect(await fetchThrough(cache, origin, cacheRequest('/p'))).toMatchObject({
      notStored: 'private',
      text: 'mine',
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(cache.stats.entries).toBe(0);
  });

  test('a 304 whose validator matches nothing stored leads to one unconditional request (RFC 9111 §4.3.4)', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=10', etag: '"a"' }, 'a'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/mismatch'));
    clock.advance(11);
    origin.answer((request, response) => {
      if (request.headers['if-none-match'] !== undefined) response.writeHead(304, { etag: '"other"' }).end();
      else response.writeHead(200, { 'cache-control': 'max-age=10', etag: '"c"' }).end('c');
    });
    expect(await fetchThrough(cache, origin, cacheRequest('/mismatch'))).toMatchObject({
      outcome: 'miss',
      text: 'c',
    });
    expect(origin.count()).toBe(3);
  });
});

describe("clients' conditional requests", () => {
  test('If-None-Match matching the stored ETag gets 304 from cache', async () => {
    const origin = await startOrigin(
      respondWith(
        200,
        { 'cache-control': 'max-age=60', etag: 'W/"v1"', 'content-type': 'text/html' },
        'page',
      ),
    );
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/c'));
    const reply = await fetchThrough(cache, origin, cacheRequest('/c', { 'if-none-match': '"x", "v1"' }));
    expect(reply).toMatchObject({ status: 304, outcome: 'hit', body: null });
    expect(reply.headers.etag).toBe('W/"v1"');
    expect(reply.headers['content-type']).toBeUndefined();
    expect(reply.headers['content-length']).toBeUndefined();
    expect(origin.count()).toBe(1);
  });

  test('If-None-Match that does not match gets the full response', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60', etag: '"v2"' }, 'page'),
    );
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/c'));
    expect(await fetchThrough(cache, origin, cacheRequest('/c', { 'if-none-match': '"v1"' }))).toMatchObject({
      status: 200,
      text: 'page',
    });
  });

  test('If-Modified-Since at or after Last-Modified gets 304 from cache', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60', 'last-modified': lastModified }, 'x'),
    );
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/ims'));
    expect(
      (await fetchThrough(cache, origin, cacheRequest('/ims', { 'if-modified-since': lastModified }))).status,
    ).toBe(304);
    const earlier = 'Tue, 25 Mar 2025 10:00:00 GMT';
    expect(
      (await fetchThrough(cache, origin, cacheRequest('/ims', { 'if-modified-since': earlier }))).status,
    ).toBe(200);
  });

  test('without Last-Modified, If-Modified-Since is compared with the stored Date, not the time of serving', async () => {
    const stamped = 'Wed, 26 Mar 2025 10:00:00 GMT';
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60', date: stamped }, 'x'));
    const cache = createHttpCache();
    await (await fetchThrough(cache, origin, cacheRequest('/dated'))).storing;
    const hit = await fetchThrough(cache, origin, cacheRequest('/dated', { 'if-modified-since': stamped }));
    expect(hit).toMatchObject({ status: 304, outcome: 'hit' });
    const before = 'Tue, 25 Mar 2025 10:00:00 GMT';
    expect(
      (await fetchThrough(cache, origin, cacheRequest('/dated', { 'if-modified-since': before }))).status,
    ).toBe(200);
  });

  test('on a miss the origin is asked for the full response, stored, and the client still gets its 304', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60', etag: '"v1"' }, 'full'),
    );
    const cache = createHttpCache();
    const reply = await fetchThrough(cache, origin, cacheRequest('/cm', { 'if-none-match': '"v1"' }));
    expect(reply).toMatchObject({ status: 304, outcome: 'miss', body: null });
    expect(origin.requests[0]?.headers['if-none-match']).toBeUndefined();
    expect(await reply.storing).toBe('stored');
    expect(await fetchThrough(cache, origin, cacheRequest('/cm'))).toMatchObject({
      status: 200,
      outcome: 'hit',
      text: 'full',
    });
  });
});

describe('HEAD', () => {
  test('HEAD is answered from a stored GET, with its headers and no body', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, 'twelve bytes'),
    );
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/h'));
    const head = await fetchThrough(cache, origin, cacheRequest('/h', {}, 'HEAD'));
    expect(head).toMatchObject({ status: 200, outcome: 'hit', body: null });
    expect(head.headers['content-length']).toBe('12');
    expect(origin.count()).toBe(1);
  });

  test('a HEAD miss is forwarded as HEAD and does not fill the cache', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'body'));
    const cache = createHttpCache();
    const head = await fetchThrough(cache, origin, cacheRequest('/hm', {}, 'HEAD'));
    expect(head).toMatchObject({ status: 200, outcome: 'miss', notStored: 'method', body: null });
    expect(head.cacheStatus).toBe('edge451; fwd=uri-miss; fwd-status=200; detail=method');
    expect(origin.requests[0]?.method).toBe('HEAD');
    expect(cache.stats.entries).toBe(0);
  });
});
