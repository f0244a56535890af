import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough, manualClock, waitFor } from './support/client.js';
import { fetchFrom, type OriginError } from './support/fetch-origin.js';
import { closedPort, type OriginHandler, respondWith, startOrigin } from './support/origin.js';

/** A handler that waits for `release()` before answering with `then`. */
function heldUntilReleased(then: OriginHandler): { handler: OriginHandler; release: () => void } {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    handler: async (request, response) => {
      await released;
      await then(request, response);
    },
    release,
  };
}

describe('stale-while-revalidate (RFC 5861 §3)', () => {
  test('a stale response is served at once while one background request refreshes it', async () => {
    const headers = { 'cache-control': 'max-age=10, stale-while-revalidate=60' };
    const origin = await startOrigin(respondWith(200, headers, 'v1'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/swr'));
    clock.advance(15);
    const held = heldUntilReleased(respondWith(200, headers, 'v2'));
    origin.answer(held.handler);

    // The origin is holding its answer, yet every request is answered (from the stale entry).
    const stale = await Promise.all(
      Array.from({ length: 5 }, () => fetchThrough(cache, origin, cacheRequest('/swr'))),
    );
    for (const reply of stale) {
      expect(reply).toMatchObject({ outcome: 'stale', text: 'v1' });
      expect(reply.cacheStatus).toBe('edge451; hit; ttl=-5; detail=stale-while-revalidate');
    }
    expect(cache.stats.backgroundRefreshes).toBe(1);

    held.release();
    await waitFor(
      async () => (await fetchThrough(cache, origin, cacheRequest('/swr'))).text === 'v2',
      'the refreshed entry',
    );
    expect(origin.count()).toBe(2);
    expect(await fetchThrough(cache, origin, cacheRequest('/swr'))).toMatchObject({
      outcome: 'hit',
      text: 'v2',
    });
  });

  test('past the stale-while-revalidate window the client waits for the origin', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=10, stale-while-revalidate=5', etag: '"w"' }, 'x'),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/w'));
    clock.advance(16);
    const reply = await fetchThrough(cache, origin, cacheRequest('/w'));
    expect(reply.outcome).toBe('miss');
    expect(reply.cacheStatus).toBe('edge451; fwd=stale; fwd-status=200; stored; ttl=10');
    expect(cache.stats.backgroundRefreshes).toBe(0);
  });

  test('no-cache forbids serving stale even with stale-while-revalidate (RFC 9111 §4.2.4)', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'no-cache, stale-while-revalidate=60', etag: '"1"' }, 'x'),
    );
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/nc'));
    origin.answer(respondWith(304, { etag: '"1"' }));
    expect((await fetchThrough(cache, origin, cacheRequest('/nc'))).outcome).toBe('revalidated');
    expect(cache.stats.backgroundRefreshes).toBe(0);
  });
});

describe('stale-if-error (RFC 5861 §4)', () => {
  const headers = { 'cache-control': 'max-age=10, stale-if-error=60', etag: '"e"' };

  test('the stale response is served when the origin is down (connection refused)', async () => {
    const origin = await startOrigin(respondWith(200, headers, 'kept'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/sie'));
    clock.advance(20);

    const down = await closedPort();
    const reply = await fetchThrough(cache, { port: down }, cacheRequest('/sie'));
    expect(reply).toMatchObject({ status: 200, outcome: 'stale', text: 'kept' });
    expect(reply.cacheStatus).toBe('edge451; fwd=stale; ttl=-10; detail=stale-if-error');
  });

  test('concurrent requests for a stale entry with the origin down make one attempt and all get the stale response', async () => {
    const origin = await startOrigin(respondWith(200, headers, 'kept'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/many'));
    clock.advance(20);
    const down = fetchFrom(await closedPort(), '/many');
    const replies = await Promise.all(
      Array.from({ length: 10 }, () =>
        cache.serve(cacheRequest('/many'), down, new AbortController().signal),
      ),
    );
    expect(replies.every((reply) => reply.outcome === 'stale' && reply.status === 200)).toBe(true);
    expect(down.calls).toBe(1);
  });

  test.each([500, 502, 503, 504])('the stale response replaces a %i from the origin', async (status) => {
    const origin = await startOrigin(respondWith(200, headers, 'kept'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/sie'));
    clock.advance(20);
    origin.answer(respondWith(status, {}, 'broken'));
    const reply = await fetchThrough(cache, origin, cacheRequest('/sie'));
    expect(reply).toMatchObject({ status: 200, outcome: 'stale', text: 'kept' });
    expect(reply.cacheStatus).toBe(
      `edge451; fwd=stale; fwd-status=${status}; ttl=-10; detail=stale-if-error`,
    );
  });

  test("past the stale-if-error window the origin's error goes to the client", async () => {
    const origin = await startOrigin(respondWith(200, headers, 'kept'));
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/late'));
    clock.advance(75);
    const down = await closedPort();
    const failure = cache.serve(
      cacheRequest('/late'),
      fetchFrom(down, '/late'),
      new AbortController().signal,
    );
    await expect(failure).rejects.toMatchObject({
      code: 'EDGE_ORIGIN_UNREACHABLE',
      source: 'origin',
    } satisfies Partial<OriginError>);
    origin.answer(respondWith(503, {}, 'down'));
    expect(await fetchThrough(cache, origin, cacheRequest('/late'))).toMatchObject({
      status: 503,
      outcome: 'miss',
      notStored: 'status',
    });
  });

  test('must-revalidate forbids stale-if-error (RFC 9111 §5.2.2.2)', async () => {
    const origin = await startOrigin(
      respondWith(
        200,
        { ...headers, 'cache-control': 'max-age=10, must-revalidate, stale-if-error=60' },
        'x',
      ),
    );
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/mr'));
    clock.advance(20);
    origin.answer(respondWith(503, {}, 'down'));
    expect(await fetchThrough(cache, origin, cacheRequest('/mr'))).toMatchObject({
      status: 503,
      text: 'down',
    });
  });
});
