import type { CacheInternals } from './cache-context.js';
import { makeCacheKey } from './cache-key.js';
import type { CancelSignal } from './cancellation.js';
import { forwardResponse } from './forward.js';
import { headerValue } from './request-headers.js';
import type { CacheReply, CacheRequest, FetchOrigin, HeaderMap } from './types.js';

/** RFC 9110 §9.2.1: methods that do not change the resource. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Why a request skips the cache entirely. */
export type BypassReason = 'method' | 'range' | 'precondition' | 'body' | 'request-no-store';

/**
 * Which GET/HEAD requests the cache does not handle: byte ranges (the cache stores whole responses only)
 * and If-Match / If-Unmodified-Since preconditions (state-changing semantics the origin must judge). They
 * go to the origin untouched, which adds no way to force origin traffic that a fresh query string lacks.
 * And requests with content: the key cannot contain it, so an answer the origin made from one client's
 * content must not be stored for everybody, nor a stored answer given for it (RFC 9110 §9.3.1: content in
 * a GET has no generally defined semantics; caches keyed on the URL cannot take it into account).
 */
export function requestBypassReason(request: CacheRequest): BypassReason | undefined {
  if (request.hasBody === true) return 'body';
  const { headers } = request;
  if (asksNotToStore(headers)) return 'request-no-store';
  if (headers.range !== undefined || headers['if-range'] !== undefined) return 'range';
  if (headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined)
    return 'precondition';
  return undefined;
}

/**
 * Forwards a request the cache does not handle exactly as received, and after a non-error answer to an
 * unsafe method invalidates the stored responses of the target URL and of same-host Location /
 * Content-Location (RFC 9111 §4.4).
 */
export async function bypassOrigin(
  cache: CacheInternals,
  request: CacheRequest,
  fetchOrigin: FetchOrigin,
  signal: CancelSignal,
  reason: BypassReason,
): Promise<CacheReply> {
  const response = await fetchOrigin({ method: request.method, headers: request.headers }, signal);
  if (!SAFE_METHODS.has(request.method) && response.status >= 200 && response.status < 400) {
    await invalidate(cache, request, response.headers);
  }
  const facts = {
    fwd: reason === 'method' ? ('method' as const) : ('request' as const),
    fwdStatus: response.status,
    detail: reason,
  };
  return forwardResponse(cache.name, request, response, 'bypass', facts, reason);
}

async function invalidate(cache: CacheInternals, request: CacheRequest, headers: HeaderMap): Promise<void> {
  const paths = new Set([request.path]);
  for (const name of ['location', 'content-location']) {
    const path = sameHostPath(headerValue(headers, name), request.host);
    if (path !== undefined) paths.add(path);
  }
  for (const path of paths) {
    try {
      await cache.store.delete({
        kind: 'key',
        key: makeCacheKey({ method: 'GET', host: request.host, path }),
      });
    } catch {
      cache.counters.storeErrors += 1;
    }
  }
}

/** The path of a Location-style URI reference when it points at `host` (§4.4: only the same origin). */
function sameHostPath(reference: string | undefined, host: string): string | undefined {
  if (reference === undefined) return undefined;
  if (reference.startsWith('/') && !reference.startsWith('//')) return reference;
  try {
    const url = new URL(reference);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.host === host)
      return url.pathname + url.search;
  } catch {
    // Not an absolute URL: nothing to invalidate.
  }
  return undefined;
}

/**
 * `Cache-Control: no-store` in a request: nothing of it or its answer may be stored (RFC 9111 §5.2.1.5). The
 * one request directive the cache honours: it costs the origin this client's request and nobody else's,
 * where `no-cache` or `max-age=0` would let one client empty the cache for everybody.
 */
function asksNotToStore(headers: HeaderMap): boolean {
  const cacheControl = headerValue(headers, 'cache-control');
  return cacheControl !== undefined && /(?:^|,)\s*no-store\s*(?:,|$)/i.test(cacheControl);
}
