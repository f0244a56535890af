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

  test('a lookup of a key with several variants keeps only the variant served alive, not every one it read', async () => {
    const store = createMemoryStore({ maxBytes: 50_000, maxEntryBytes: 10_000 });
    const body = Buffer.alloc(4_000);
    for (const variant of ['served', 'looked-at'])
      await store.set(storedResponse({ key: 'home', variant, body }));
    for (let index = 0; index < 200; index += 1) {
      expect(await store.get('home')).not.toHaveLength(0);
      store.used('home', 'served');
      await store.set(storedResponse({ key: `flood-${index}`, body }));
    }
    expect((await store.get('home')).map((found) => found.variant)).toEqual(['served']);
  });

  test('one client filling a key with variants leaves other keys and at most maxVariantsPerKey of its own', async () => {
    const store = createMemoryStore({ maxBytes: 10_000_000, maxEntryBytes: 10_000, maxVariantsPerKey: 50 });
    await store.set(storedResponse({ key: 'other' }));
    await store.set(storedResponse({ key: 'home', variant: 'regular' }));
    for (let index = 0; index < 1_000; index += 1) {
      store.used('home', 'regular');
      await store.set(storedResponse({ key: 'home', variant: `attacker-${index}` }));
    }
    const variants = (await store.get('home')).map((found) => found.variant);
    expect(variants).toHaveLength(50);
    expect(variants).toContain('regular');
    expect(variants).toContain('attacker-999');
    expect(variants).not.toContain('attacker-949');
    expect(store.stats.entries).toBe(51);
    expect(await store.delete({ kind: 'host', host: 'example.com' })).toBe(51);
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

  test('refuses a variant bound that cannot work', () => {
    expect(() => createMemoryStore({ maxBytes: 1000, maxEntryBytes: 100, maxVariantsPerKey: 0 })).toThrow(
      expect.objectContaining({ code: 'CACHE_OPTIONS_INVALID' }),
    );
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
