import type { CacheStore, StoredResponse } from '@edge451/cache';
import CachePolicy from 'http-cache-semantics';
import { beforeEach, describe, expect, test } from 'vitest';

/** What a contract run gives the store under test. */
export interface CacheStoreFixture {
  maxBytes: number;
  maxEntryBytes: number;
  /** Epoch-ms clock the store must use for expiry; the suite moves it. */
  clock: () => number;
  /** Variants the store must keep per key at most. */
  maxVariantsPerKey: number;
}

const MAX_BYTES = 200_000;
const MAX_ENTRY_BYTES = 20_000;
const MAX_VARIANTS_PER_KEY = 4;

/** A stored response as the cache would build it (a real http-cache-semantics policy). */
export function storedResponse(
  fields: Partial<StoredResponse> & { key: string },
  now = Date.now(),
): StoredResponse {
  const host = fields.host ?? 'example.com';
  const path = fields.path ?? '/';
  const policy = new CachePolicy(
    { method: 'GET', url: path, headers: { host } },
    { status: 200, headers: { 'cache-control': 'max-age=60', 'content-type': 'text/plain' } },
    { shared: true },
  ).toObject();
  return {
    variant: '',
    host,
    path,
    surrogateKeys: [],
    policy,
    body: Buffer.from(`body of ${fields.key}`),
    expiresAt: now + 60_000,
    ...fields,
  };
}

/**
 * The CacheStore contract: every store (memory now, Redis later) runs it with
 * `describeCacheStore('name', (fixture) => createStore(fixture))`. The factory must return an empty store
 * honouring `fixture.maxBytes`, `fixture.maxEntryBytes` and `fixture.clock`.
 */
export function describeCacheStore(
  name: string,
  factory: (fixture: CacheStoreFixture) => CacheStore | Promise<CacheStore>,
): void {
  describe(`CacheStore contract: ${name}`, () => {
    let now = 0;
    let store: CacheStore;
    const entry = (fields: Partial<StoredResponse> & { key: string }) => storedResponse(fields, now);

    beforeEach(async () => {
      now = Date.now();
      store = await factory({
        maxBytes: MAX_BYTES,
        maxEntryBytes: MAX_ENTRY_BYTES,
        clock: () => now,
        maxVariantsPerKey: MAX_VARIANTS_PER_KEY,
      });
    });

    test('an unknown key has no entries', async () => {
      expect(await store.get('GET example.com /nothing')).toEqual([]);
    });

    test('an entry comes back with every field, the body byte for byte', async () => {
      const body = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));
      const stored = entry({
        key: 'GET example.com /bin',
        path: '/bin',
        variant: '["https",null]',
        surrogateKeys: ['a', 'b'],
        body,
      });
      expect(await store.set(stored)).toBe(true);
      const [found] = await store.get(stored.key);
      expect(found).toEqual(stored);
      expect(found?.body.equals(body)).toBe(true);
    });

    test('the variants of a key are kept side by side, and setting one again replaces it', async () => {
      await store.set(entry({ key: 'k', variant: 'fr' }));
      await store.set(entry({ key: 'k', variant: 'en' }));
      await store.set(entry({ key: 'k', variant: 'fr', body: Buffer.from('new fr') }));
      const variants = await store.get('k');
      expect(variants.map((found) => found.variant).sort()).toEqual(['en', 'fr']);
      expect(variants.find((found) => found.variant === 'fr')?.body.toString()).toBe('new fr');
      expect(store.stats.entries).toBe(2);
    });

    test('a key keeps maxVariantsPerKey variants, the least recently set or used going first', async () => {
      for (const variant of ['v0', 'v1', 'v2', 'v3']) await store.set(entry({ key: 'k', variant }));
      await store.set(entry({ key: 'other' }));
      store.used('k', 'v0');
      await store.set(entry({ key: 'k', variant: 'v2' })); // replaced: used too
      await store.set(entry({ key: 'k', variant: 'v4' }));
      const variantsOf = async (key: string) => (await store.get(key)).map((found) => found.variant).sort();
      expect(await variantsOf('k')).toEqual(['v0', 'v2', 'v3', 'v4']);
      await store.set(entry({ key: 'k', variant: 'v5' }));
      expect(await variantsOf('k')).toEqual(['v0', 'v2', 'v4', 'v5']);
      expect(await variantsOf('other')).toEqual(['']);
      expect(store.stats.entries).toBe(5);
      expect(await store.delete({ kind: 'key', key: 'k' })).toBe(4);
    });

    test('using a key or variant that is not stored changes nothing', async () => {
      await store.set(entry({ key: 'k', variant: 'a' }));
      store.used('k', 'b');
      store.used('nothing', 'a');
      expect((await store.get('k')).map((found) => found.variant)).toEqual(['a']);
      expect(store.stats.entries).toBe(1);
    });

    test('an expired entry is never returned', async () => {
      await store.set(entry({ key: 'short', expiresAt: now + 1000 }));
      now += 999;
      expect(await store.get('short')).toHaveLength(1);
      now += 1;
      expect(await store.get('short')).toEqual([]);
    });

    test('an entry larger than maxEntryBytes is declined', async () => {
      expect(await store.set(entry({ key: 'big', body: Buffer.alloc(MAX_ENTRY_BYTES + 1) }))).toBe(false);
      expect(await store.get('big')).toEqual([]);
      expect(store.stats.entries).toBe(0);
    });

    test('delete by key removes every variant, or the one named', async () => {
      for (const variant of ['a', 'b', 'c']) await store.set(entry({ key: 'k', variant }));
      expect(await store.delete({ kind: 'key', key: 'k', variant: 'b' })).toBe(1);
      expect(await store.delete({ kind: 'key', key: 'k', variant: 'b' })).toBe(0);
      expect(await store.delete({ kind: 'key', key: 'k' })).toBe(2);
      expect(await store.get('k')).toEqual([]);
    });

    test('delete by host, by host and path prefix, and by surrogate key touch only what they name', async () => {
      await store.set(entry({ key: 'a1', host: 'a.example', path: '/img/1', surrogateKeys: ['img'] }));
      await store.set(entry({ key: 'a2', host: 'a.example', path: '/img/2', surrogateKeys: ['img', 'two'] }));
      await store.set(entry({ key: 'a3', host: 'a.example', path: '/page', surrogateKeys: ['two'] }));
      await store.set(entry({ key: 'b1', host: 'b.example', path: '/img/1', surrogateKeys: ['img'] }));

      expect(await store.delete({ kind: 'host', host: 'a.example', pathPrefix: '/img/' })).toBe(2);
      expect(await store.get('b1')).toHaveLength(1);
      expect(await store.delete({ kind: 'surrogate-key', surrogateKey: 'two' })).toBe(1);
      expect(await store.delete({ kind: 'host', host: 'a.example' })).toBe(0);
      expect(await store.delete({ kind: 'host', host: 'b.example' })).toBe(1);
      expect(store.stats).toEqual({ entries: 0, bytes: 0 });
    });

    test('delete by host suffix removes every subdomain at any depth, never the host itself', async () => {
      await store.set(entry({ key: 'apex', host: 'example.com', path: '/' }));
      await store.set(entry({ key: 'sub', host: 'a.example.com', path: '/' }));
      await store.set(entry({ key: 'deep', host: 'b.a.example.com', path: '/' }));
      await store.set(entry({ key: 'lookalike', host: 'badexample.com', path: '/' }));

      expect(await store.delete({ kind: 'host-suffix', suffix: 'example.com' })).toBe(2);
      expect(await store.get('apex')).toHaveLength(1);
      expect(await store.get('lookalike')).toHaveLength(1);
      expect(await store.get('sub')).toEqual([]);
      expect(await store.get('deep')).toEqual([]);
    });

    test('a replaced entry is found under its new surrogate keys only', async () => {
      await store.set(entry({ key: 'k', surrogateKeys: ['old'] }));
      await store.set(entry({ key: 'k', surrogateKeys: ['new'] }));
      expect(await store.delete({ kind: 'surrogate-key', surrogateKey: 'old' })).toBe(0);
      expect(await store.delete({ kind: 'surrogate-key', surrogateKey: 'new' })).toBe(1);
    });

    test('delete all empties the store and stats say so', async () => {
      for (let index = 0; index < 10; index += 1) await store.set(entry({ key: `k${index}` }));
      expect(store.stats.entries).toBe(10);
      expect(store.stats.bytes).toBeGreaterThan(0);
      expect(await store.delete({ kind: 'all' })).toBe(10);
      expect(store.stats).toEqual({ entries: 0, bytes: 0 });
    });
  });
}
