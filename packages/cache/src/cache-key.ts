import { CacheError } from './errors.js';
import type { CacheRequest } from './types.js';

/**
 * THE cache key rule, used for every lookup, store, coalescing and purge: method, normalised host, and the
 * path and query exactly as received — nothing else. HEAD shares GET's key because a HEAD is answered from
 * the stored GET (RFC 9110 §9.3.2). Vary'ed request headers select a variant under this key; they are not
 * part of it.
 *
 * Getting this wrong leads to cache poisoning: any input that changes what the origin returns but is left
 * out of the key (a client's `X-Forwarded-Host`, `X-Original-URL`…) lets one client choose what everybody
 * else is served, and any input put in the key that the origin ignores splits the cache. `host` must come
 * from the edge's `normalizeHost`, never from a raw `Host` header or a forwarding header.
 *
 * Returns `"GET example.com /a?x=1"`. Throws `CACHE_KEY_INVALID` when the method or host contains
 * whitespace (a caller bug: the parts would no longer be unambiguous).
 */
export function makeCacheKey(request: Pick<CacheRequest, 'method' | 'host' | 'path'>): string {
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const { host, path } = request;
  if (method === lastKey.method && host === lastKey.host && path === lastKey.path) return lastKey.key;
  if (!isKeyToken(method) || !isKeyToken(host)) {
    throw new CacheError(
      'CACHE_KEY_INVALID',
      `cache key needs a method and a normalised host without whitespace, got ${JSON.stringify(method)} and ${JSON.stringify(host)}`,
      'internal',
    );
  }
  // The space after the host keeps "a.com" + "/x" and "a.com/x" + "" apart whatever the path holds.
  const key = `${method} ${host} ${path}`;
  lastKey.method = method;
  lastKey.host = host;
  lastKey.path = path;
  lastKey.key = key;
  return key;
}

// The last key made, with its parts: hits come in runs for one URL, and the key string kept from the last
// lookup already holds its hash, where a new one had to be checked, joined, flattened and hashed again by
// the store's Map (~1,500 instructions of every hit). Only valid keys are kept (an empty method never is).
const lastKey = { method: '', host: '', path: '', key: '' };

function isKeyToken(value: string): boolean {
  return value.length > 0 && !/\s/.test(value);
}
