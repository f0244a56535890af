import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough } from './support/client.js';
import { respondWith, startOrigin } from './support/origin.js';

// The edge hands serve() a function for the client's signal so that hits never make an AbortController.
describe('a lazily made client signal', () => {
  test('is never asked for on a hit, and asked for when the origin is needed', async () => {
    const origin = await startOrigin(respondWith(200, { 'cache-control': 'max-age=60' }, 'v1'));
    const cache = createHttpCache();
    let asked = 0;
    const signal = () => {
      asked += 1;
      return new AbortController().signal;
    };
    expect((await fetchThrough(cache, origin, cacheRequest('/s'), signal)).outcome).toBe('miss');
    expect(asked).toBe(1);
    const hit = await fetchThrough(cache, origin, cacheRequest('/s'), signal);
    expect(hit).toMatchObject({ outcome: 'hit', text: 'v1' });
    expect(asked).toBe(1);
  });

  test('still cancels a miss when the client goes away', async () => {
    const origin = await startOrigin(() => undefined); // never answers
    const cache = createHttpCache();
    const controller = new AbortController();
    const pending = fetchThrough(cache, origin, cacheRequest('/hang'), () => controller.signal);
    controller.abort(new Error('client gone'));
    await expect(pending).rejects.toThrow('client gone');
  });
});
