import { withoutFields } from './header-copy.js';
import type { HeaderMap } from './types.js';

/**
 * Headers that talk to this cache, not to clients: they are read, then removed from every reply and
 * from stored headers. `Surrogate-Control` is removed but not interpreted (freshness comes from
 * Cache-Control only).
 */
const SURROGATE_HEADERS: ReadonlySet<string> = new Set(['surrogate-key', 'surrogate-control', 'cache-tag']);

/** Most keys one response may carry; the rest are ignored, so an origin cannot bloat the index. */
const MAX_KEYS_PER_RESPONSE = 256;

/**
 * The purge tags an origin response carries: `Surrogate-Key` is space-separated (Fastly), `Cache-Tag`
 * comma-separated (Cloudflare). Both are read, duplicates dropped, order kept, case kept.
 */
export function surrogateKeysOf(headers: HeaderMap): string[] {
  const keys = new Set<string>();
  const add = (value: string | string[] | undefined, separator: string | RegExp) => {
    for (const part of [value ?? []].flat()) {
      for (const key of part.split(separator)) {
        const trimmed = key.trim();
        if (trimmed.length > 0 && keys.size < MAX_KEYS_PER_RESPONSE) keys.add(trimmed);
      }
    }
  };
  add(headers['surrogate-key'], /\s+/);
  add(headers['cache-tag'], ',');
  return [...keys];
}

/** `headers` without the surrogate headers (what clients and the store get): a copy only when it has one. */
export function withoutSurrogateHeaders<T extends HeaderMap>(headers: T): T {
  return withoutFields(headers, isSurrogateHeader);
}

function isSurrogateHeader(name: string): boolean {
  return SURROGATE_HEADERS.has(name);
}
