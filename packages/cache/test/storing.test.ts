import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { bodyOf, cacheRequest, fetchThrough, manualClock } from './support/client.js';
import { fetchFrom } from './support/fetch-origin.js';
import { respondWith, startOrigin } from './support/origin.js';

describe('what is stored', () => {
  test('a max-age response is stored on the first request and served from cache on the second', async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, 'hello'),
    );
    const cache = createHttpCache({ clock: manualClock() });

    const first = await fetchThrough(cache, origin, cacheRequest('/a'));
    expect(first).toMatchObject({ status: 200, outcome: 'miss', text: 'hello' });
    expect(first.cacheStatus).toBe('edge451; fwd=uri-miss; fwd-status=200; stored; ttl=60');
    expect(await first.storing).toBe('stored');

    const second = await fetchThrough(cache, origin, cacheRequest('/a'));
    expect(second).toMatchObject({ status: 200, outcome: 'hit', text: 'hello' });
    expect(second.cacheStatus).toBe('edge451; hit; ttl=60');
    expect(second.headers).toMatchObject({ 'content-type': 'text/plain', 'content-length': '5', age: '0' });
    expect(origin.count()).toBe(1);
  });

  test.each([
    ['origin-no-store', { 'cache-control': 'no-store, max-age=60' }, {}],
    ['private', { 'cache-control': 'private, max-age=60' }, {}],
    ['set-cookie', { 'cache-control': 'public, max-age=60', 'set-cookie': 'session=abc' }, {}],
    ['authorization', { 'cache-control': 'max-age=60' }, { authorization: 'Bearer secret' }],
    ['vary-star', { 'cache-control': 'max-age=60', vary: '*' }, {}],
    ['no-freshness', {}, {}],
  ] as const)(
    'a response that may not be shared is not stored: %s',
    async (reason, responseHeaders, requestHeaders) => {
      const origin = await startOrigin(respondWith(200, { ...responseHeaders }, 'body'));
      const cache = createHttpCache();

      const first = await fetchThrough(cache, origin, cacheRequest('/p', { ...requestHeaders }));
      expect(first).toMatchObject({ status: 200, outcome: 'miss', notStored: reason, text: 'body' });
      expect(first.cacheStatus).toBe(`edge451; fwd=uri-miss; fwd-status=200; detail=${reason}`);
      await fetchThrough(cache, origin, cacheRequest('/p', { ...requestHeaders }));
      expect(origin.count()).toBe(2);
      expect(cache.stats.entries).toBe(0);
    },
  );

  test('an authenticated request may fill the cache when the origin says s-maxage (RFC 9111 §3.5)', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 's-maxage=60' }, 'shared'));
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/auth', { authorization: 'Bearer secret' }));
    const second = await fetchThrough(cache, origin, cacheRequest('/auth'));
    expect(second).toMatchObject({ outcome: 'hit', text: 'shared' });
    expect(origin.count()).toBe(1);
  });

  test.each([500, 503, 206])('status %i is not stored even with max-age', async (status) => {
    const origin = await startOrigin(respondWith(status, { 'cache-control': 'max-age=60' }, 'x'));
    const cache = createHttpCache();
    const reply = await fetchThrough(cache, origin, cacheRequest('/s'));
    expect(reply).toMatchObject({ status, outcome: 'miss', notStored: 'status' });
    await fetchThrough(cache, origin, cacheRequest('/s'));
    expect(origin.count()).toBe(2);
  });

  test('a 404 with max-age is stored like a 200 (cacheable by default, RFC 9110 §15.5.5)', async () => {
    const origin = await startOrigin(respondWith(404, { 'cache-control': 'max-age=60' }, 'gone'));
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/missing'));
    const second = await fetchThrough(cache, origin, cacheRequest('/missing'));
    expect(second).toMatchObject({ status: 404, outcome: 'hit', text: 'gone' });
  });

  test('surrogate headers are read for purging and never reach clients, from origin or from cache', async () => {
    const origin = await startOrigin(
      respondWith(
        200,
        {
          'cache-control': 'max-age=60',
          'surrogate-key': 'a b',
          'surrogate-control': 'max-age=9',
          'cache-tag': 'c',
        },
        'x',
      ),
    );
    const cache = createHttpCache();
    const miss = await fetchThrough(cache, origin, cacheRequest('/tagged'));
    const hit = await fetchThrough(cache, origin, cacheRequest('/tagged'));
    for (const reply of [miss, hit]) {
      expect(Object.keys(reply.headers)).not.toContain('surrogate-key');
      expect(Object.keys(reply.headers)).not.toContain('surrogate-control');
      expect(Object.keys(reply.headers)).not.toContain('cache-tag');
    }
    expect(await cache.purge({ surrogateKey: 'b' })).toBe(1);
  });

  test("the origin's own Cache-Status stays after this cache's member", async () => {
    const origin = await startOrigin(
      respondWith(200, { 'cache-control': 'max-age=60', 'cache-status': 'OriginCache; hit' }, 'x'),
    );
    const cache = createHttpCache();
    const miss = await fetchThrough(cache, origin, cacheRequest('/cs'));
    expect(miss.headers['cache-status']).toBe(
      'edge451; fwd=uri-miss; fwd-status=200; stored; ttl=60, OriginCache; hit',
    );
    const hit = await fetchThrough(cache, origin, cacheRequest('/cs'));
    expect(hit.headers['cache-status']).toBe('edge451; hit; ttl=60, OriginCache; hit');
  });

  test("a stored response's headers stay as stored while its replies get Cache-Status and Content-Length", async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60', etag: '"v"' }, 'x'));
    const cache = createHttpCache({ clock: manualClock() });
    await fetchThrough(cache, origin, cacheRequest('/kept'));
    const hit = await fetchThrough(cache, origin, cacheRequest('/kept'));
    expect(hit.headers['cache-status']).toBe('edge451; hit; ttl=60');
    const notModified = await fetchThrough(cache, origin, cacheRequest('/kept', { 'if-none-match': '"v"' }));
    expect(notModified.status).toBe(304);
    expect(notModified.headers['cache-status']).toBe('edge451; hit; ttl=60');
  });

  test('a forwarded response gives its client no field whose value is undefined', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'no-store' }, 'x'));
    const cache = createHttpCache();
    const request = cacheRequest('/undefined-field');
    const fetchOrigin = fetchFrom(origin.port, request.path);
    const reply = await cache.serve(
      request,
      async (originRequest, signal) => {
        const response = await fetchOrigin(originRequest, signal);
        return { ...response, headers: { ...response.headers, 'x-absent': undefined } };
      },
      new AbortController().signal,
    );
    expect(reply.outcome).toBe('miss');
    expect(Object.keys(reply.headers)).not.toContain('x-absent');
    expect(await bodyOf(reply)).toBe('x');
  });

  test('the Cache-Status name is configurable', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'x'));
    const cache = createHttpCache({ name: 'paris-1' });
    const reply = await fetchThrough(cache, origin, cacheRequest('/n'));
    expect(reply.cacheStatus).toMatch(/^paris-1; fwd=uri-miss/);
  });
});
