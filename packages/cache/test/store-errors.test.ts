import { type CacheStore, createHttpCache, createMemoryStore } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough } from './support/client.js';
import { respondWith, startOrigin } from './support/origin.js';

/** A real memory store whose chosen operations fail, as a Redis tier does when Redis is down. */
function failingStore(failing: { get?: boolean; set?: boolean; delete?: boolean }): CacheStore {
  const store = createMemoryStore({ maxBytes: 1_000_000, maxEntryBytes: 100_000 });
  const down = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
  return {
    get: (key) => (failing.get ? down() : store.get(key)),
    used: (key, variant) => store.used(key, variant),
    set: (entry) => (failing.set ? down() : store.set(entry)),
    delete: (selector) => (failing.delete ? down() : store.delete(selector)),
    get stats() {
      return store.stats;
    },
  };
}

describe('a failing store degrades to the origin', () => {
  test('when reads fail, requests are served from the origin and counted', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'from origin'));
    const cache = createHttpCache({ store: failingStore({ get: true }) });
    const reply = await fetchThrough(cache, origin, cacheRequest('/g'));
    expect(reply).toMatchObject({
      status: 200,
      outcome: 'miss',
      notStored: 'store-error',
      text: 'from origin',
    });
    expect(reply.cacheStatus).toBe('edge451; fwd=miss; fwd-status=200; detail=store-error');
    expect(cache.stats.storeErrors).toBe(1);
  });

  test('when writes fail, the client still gets the response and the failure is counted', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'from origin'));
    const cache = createHttpCache({ store: failingStore({ set: true }) });
    const reply = await fetchThrough(cache, origin, cacheRequest('/s'));
    expect(reply.text).toBe('from origin');
    expect(await reply.storing).toBe('store-error');
    expect(cache.stats.storeErrors).toBe(1);
  });

  test('coalesced waiters are served even when the store rejects the write', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'shared'));
    const cache = createHttpCache({ store: failingStore({ set: true }) });
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => fetchThrough(cache, origin, cacheRequest('/w'))),
    );
    expect(replies.map((reply) => reply.text)).toEqual(Array(5).fill('shared'));
    expect(origin.count()).toBe(1);
  });

  test('when invalidation fails, the unsafe request still succeeds and the failure is counted', async () => {
    const origin = await startOrigin(respondWith(200, {}, 'ok'));
    const cache = createHttpCache({ store: failingStore({ delete: true }) });
    expect((await fetchThrough(cache, origin, cacheRequest('/d', {}, 'POST'))).status).toBe(200);
    expect(cache.stats.storeErrors).toBe(1);
  });

  test('a purge against a failing store rejects, so the operator sees it', async () => {
    const cache = createHttpCache({ store: failingStore({ delete: true }) });
    await expect(cache.purge({ all: true })).rejects.toThrow('ECONNREFUSED');
  });
});
