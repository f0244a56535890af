import { describe, expect, test } from 'vitest';
import { describeCacheStore, storedResponse } from '../../test/describe-cache-store.js';
import { createMemoryStore } from './memory-store.js';

describeCacheStore('memory', (fixture) => createMemoryStore(fixture));

describe('memory store', () => {
  test('stays within maxBytes whatever is stored, dropping the least recently used first', async () => {
    const store = createMemoryStore({ maxBytes: 50_000, maxEntryBytes: 10_000 });
    const body = Buffer.alloc(4_000);
    await store.set(storedResponse({ key: 'kept', body }));
    for (let index = 0; index < 200; index += 1) {
      await store.get('kept'); // reading counts as use
      await store.set(storedResponse({ key: `flood-${index}`, body }));
      expect(store.stats.bytes).toBeLessThanOrEqual(50_000);
    }
    expect(await store.get('kept')).toHaveLength(1);
    expect(await store.get('flood-0')).toEqual([]);
  });

  test('evicted entries leave the host and surrogate-key indexes', async () => {
    const store = createMemoryStore({ maxBytes: 20_000, maxEntryBytes: 10_000 });
    for (let index = 0; index < 20; index += 1) {
      await store.set(
        storedResponse({ key: `k${index}`, surrogateKeys: ['tag'], body: Buffer.alloc(3_000) }),
      );
    }
    const live = store.stats.entries;
    expect(live).toBeLessThan(20);
    expect(await store.delete({ kind: 'surrogate-key', surrogateKey: 'tag' })).toBe(live);
    expect(await store.delete({ kind: 'host', host: 'example.com' })).toBe(0);
  });

  test('refuses sizes that cannot work, naming them', () => {
    expect(() => createMemoryStore({ maxBytes: 100, maxEntryBytes: 1000 })).toThrow(
      expect.objectContaining({
        code: 'CACHE_OPTIONS_INVALID',
        message:
          'memory store needs integers 0 < maxEntryBytes <= maxBytes, got maxBytes=100 maxEntryBytes=1000',
      }),
    );
  });
});
