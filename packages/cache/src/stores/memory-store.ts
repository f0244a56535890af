import { LRUCache } from 'lru-cache';
import { CacheError } from '../errors.js';
import {
  type CacheStore,
  DEFAULT_MAX_VARIANTS_PER_KEY,
  type StoredResponse,
  type StoreSelector,
} from './store.js';

/** Options of `createMemoryStore`. */
export interface MemoryStoreOptions {
  /** Upper bound of `stats.bytes` (bodies plus an estimate of everything else per entry). */
  maxBytes: number;
  /** Largest single entry, same measure; a larger one is declined (`set` resolves false). */
  maxEntryBytes: number;
  /** Epoch-ms clock used to drop expired entries; default `Date.now`. */
  clock?: () => number;
  /** Variants kept per key, the least recently used going first; default `DEFAULT_MAX_VARIANTS_PER_KEY` (200). */
  maxVariantsPerKey?: number;
}

/** Bytes charged per entry on top of body and headers: the object, index slots, LRU bookkeeping. */
const ENTRY_OVERHEAD_BYTES = 512;

/**
 * The memory tier: least-recently-used entries go first once `maxBytes` is reached (lru-cache with
 * `maxSize` and a size per entry), with indexes by key, host and surrogate key kept in step through
 * lru-cache's dispose callback, so purges never scan the whole cache. A key keeps at most
 * `maxVariantsPerKey` variants, its least recently used going first. Expired entries are dropped when
 * read and otherwise age out through the LRU. Throws `CACHE_OPTIONS_INVALID` on bad sizes.
 */
export function createMemoryStore(options: MemoryStoreOptions): CacheStore {
  const { maxBytes, maxEntryBytes, clock = Date.now } = options;
  const maxVariantsPerKey = options.maxVariantsPerKey ?? DEFAULT_MAX_VARIANTS_PER_KEY;
  if (!isPositiveInteger(maxBytes) || !isPositiveInteger(maxEntryBytes) || maxEntryBytes > maxBytes) {
    throw new CacheError(
      'CACHE_OPTIONS_INVALID',
      `memory store needs integers 0 < maxEntryBytes <= maxBytes, got maxBytes=${maxBytes} maxEntryBytes=${maxEntryBytes}`,
      'internal',
    );
  }
  if (!isPositiveInteger(maxVariantsPerKey)) {
    throw new CacheError(
      'CACHE_OPTIONS_INVALID',
      `memory store needs an integer maxVariantsPerKey > 0, got ${maxVariantsPerKey}`,
      'internal',
    );
  }
  // A key's entry ids in the order of their last use (set or `used`): the first is the one evicted when
  // the key has too many variants (a Set keeps insertion order; a use deletes and re-adds).
  const byKey = new Map<string, Set<string>>();
  const byHost = new Map<string, Set<string>>();
  const bySurrogateKey = new Map<string, Set<string>>();
  const entries = new LRUCache<string, StoredResponse>({
    maxSize: maxBytes,
    maxEntrySize: maxEntryBytes,
    sizeCalculation: entrySizeBytes,
    dispose: (entry, id) => {
      removeFromIndex(byKey, entry.key, id);
      removeFromIndex(byHost, entry.host, id);
      for (const surrogateKey of entry.surrogateKeys) removeFromIndex(bySurrogateKey, surrogateKey, id);
    },
  });

  const idsFor = (selector: StoreSelector): string[] => {
    switch (selector.kind) {
      case 'all':
        return [...entries.keys()];
      case 'key':
        return selector.variant === undefined
          ? [...(byKey.get(selector.key) ?? [])]
          : [entryId(selector.key, selector.variant)];
      case 'surrogate-key':
        return [...(bySurrogateKey.get(selector.surrogateKey) ?? [])];
      case 'host-suffix': {
        const tail = `.${selector.suffix}`;
        return [...byHost].flatMap(([host, ids]) => (host.endsWith(tail) ? [...ids] : []));
      }
      case 'host': {
        const ids = [...(byHost.get(selector.host) ?? [])];
        const { pathPrefix } = selector;
        if (pathPrefix === undefined) return ids;
        return ids.filter((id) => entries.peek(id)?.path.startsWith(pathPrefix));
      }
    }
  };

  return {
    get(key) {
      const ids = byKey.get(key);
      if (ids === undefined) return [];
      const now = clock();
      const found: StoredResponse[] = [];
      // A key's only variant is the one any hit serves: counted as used here, so `used` has nothing to do
      // on the common path. With several, only the one served is (`used`).
      const single = ids.size === 1;
      // Deleting from a Set while iterating it is well defined: expired ids simply drop out.
      for (const id of ids) {
        const entry = single ? entries.get(id) : entries.peek(id);
        if (entry === undefined) continue;
        if (entry.expiresAt <= now) entries.delete(id);
        else found.push(entry);
      }
      return found;
    },

    used(key, variant) {
      const ids = byKey.get(key);
      if (ids === undefined || ids.size < 2) return;
      const id = entryId(key, variant);
      if (!ids.delete(id)) return;
      ids.add(id);
      entries.get(id);
    },

    async set(entry) {
      const id = entryId(entry.key, entry.variant);
      entries.set(id, entry);
      if (entries.peek(id) !== entry) return false;
      // After set: replacing an entry disposes (unindexes) the old one under the same id first, so the id
      // goes to the end of its key's order as the most recently used.
      addToIndex(byKey, entry.key, id);
      addToIndex(byHost, entry.host, id);
      for (const surrogateKey of entry.surrogateKeys) addToIndex(bySurrogateKey, surrogateKey, id);
      // The key's least recently used variants come first; disposal removes each from the Set.
      const variants = byKey.get(entry.key) ?? new Set<string>();
      for (const oldest of variants) {
        if (variants.size <= maxVariantsPerKey) break;
        if (!entries.delete(oldest)) variants.delete(oldest);
      }
      return true;
    },

    async delete(selector) {
      let removed = 0;
      for (const id of idsFor(selector)) {
        if (entries.delete(id)) removed += 1;
      }
      return removed;
    },

    get stats() {
      return { entries: entries.size, bytes: entries.calculatedSize };
    },
  };
}

function entryId(key: string, variant: string): string {
  return `${key}\n${variant}`;
}

/** What an entry costs: body, headers and request headers as JSON would hold them, keys, overhead. */
function entrySizeBytes(entry: StoredResponse): number {
  let size = entry.body.byteLength + ENTRY_OVERHEAD_BYTES + entry.key.length * 2 + entry.variant.length;
  size += entry.host.length + entry.path.length;
  for (const surrogateKey of entry.surrogateKeys) size += surrogateKey.length * 2 + 16;
  size += headersSize(entry.policy.resh) + headersSize(entry.policy.reqh);
  return size;
}

function headersSize(headers: Record<string, string | string[] | undefined> | null): number {
  let size = 0;
  for (const name in headers) {
    const value = headers[name];
    size += name.length + 4;
    for (const part of [value ?? []].flat()) size += part.length + 2;
  }
  return size;
}

function addToIndex(index: Map<string, Set<string>>, name: string, id: string): void {
  let ids = index.get(name);
  if (ids === undefined) {
    ids = new Set();
    index.set(name, ids);
  }
  ids.add(id);
}

function removeFromIndex(index: Map<string, Set<string>>, name: string, id: string): void {
  const ids = index.get(name);
  if (ids === undefined) return;
  ids.delete(id);
  if (ids.size === 0) index.delete(name);
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}
