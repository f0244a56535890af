import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough } from './support/client.js';
import { startOrigin } from './support/origin.js';

describe('memory bound', () => {
  test('a flood of distinct URLs never takes the store above maxBytes, and recent entries survive', async () => {
    const body = 'b'.repeat(10_000);
    const origin = await startOrigin((_request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=600' }).end(body);
    });
    const maxBytes = 500_000;
    const cache = createHttpCache({ maxBytes, maxEntryBytes: 50_000 });
    let largest = 0;
    for (let index = 0; index < 600; index += 1) {
      const reply = await fetchThrough(cache, origin, cacheRequest(`/flood/${index}?cb=${index}`));
      expect(await reply.storing).toBe('stored');
      largest = Math.max(largest, cache.stats.bytes);
    }
    expect(largest).toBeLessThanOrEqual(maxBytes);
    expect(cache.stats.entries).toBeGreaterThan(30);
    expect(cache.stats.entries).toBeLessThan(50);
    expect((await fetchThrough(cache, origin, cacheRequest('/flood/599?cb=599'))).outcome).toBe('hit');
    expect((await fetchThrough(cache, origin, cacheRequest('/flood/0?cb=0'))).outcome).toBe('miss');
  }, 30_000);
});
