import { LRUCache } from 'lru-cache';

/**
 * Remembers, for a while, the keys whose last response could not be stored ("hit-for-miss" in Varnish),
 * so that requests for them go straight to the origin instead of queueing behind one another — the
 * coalescing trap nginx's proxy_cache_lock falls into (measured here: 8–9 k req/s and a p99 of 760 ms on
 * uncacheable URLs, instead of 20–24 k, because each waits for the one in flight). A remembered key is still
 * stored if its next response is storable; only coalescing is off.
 */
export interface UncacheableMemory {
  has(key: string): boolean;
  remember(key: string): void;
  forget(key: string): void;
}

/**
 * Keys are kept `memoryMs` (by `clock`), at most `maxKeys` of them (least recently used go first).
 * The expiry is written here rather than lru-cache's `ttl`: that one reads a start time of 0 as "none"
 * (never stale) and keeps an entry one millisecond past its ttl, which an injected test clock exposes.
 */
export function createUncacheableMemory(
  memoryMs: number,
  clock: () => number,
  maxKeys = 10_000,
): UncacheableMemory {
  const until = new LRUCache<string, number>({ max: maxKeys });
  return {
    has(key) {
      const expiry = until.peek(key);
      if (expiry === undefined) return false;
      if (expiry > clock()) return true;
      until.delete(key);
      return false;
    },
    remember(key) {
      if (memoryMs > 0) until.set(key, clock() + memoryMs);
    },
    forget(key) {
      until.delete(key);
    },
  };
}
