import type CachePolicy from 'http-cache-semantics';
import { hasValidator, responseDirectives } from './policy.js';
import type { NotStoredReason } from './types.js';
import { varyFields } from './vary.js';

/**
 * Decides whether a response to a GET may be stored, and if not, why (the `NotStoredReason` word).
 * Storability and freshness are http-cache-semantics' (shared mode); this adds the edge's own refusals:
 * no Set-Cookie response is shared, `Vary: *` and responses with no lifetime and no validator are
 * useless to keep, and a declared Content-Length above `maxEntryBytes` skips buffering from the start.
 * Returns `undefined` when the response may be stored.
 */
export function notStoredReason(
  policy: CachePolicy,
  headers: Readonly<Record<string, string | string[]>>,
  requestHadAuthorization: boolean,
  maxEntryBytes: number,
): NotStoredReason | undefined {
  if (!policy.storable()) return explainUnstorable(policy, requestHadAuthorization);
  // Serving one visitor's Set-Cookie to others hands out sessions; Varnish and nginx refuse too.
  if (headers['set-cookie'] !== undefined) return 'set-cookie';
  if (varyFields(headers.vary).includes('*')) return 'vary-star';
  if (policy.timeToLive() <= 0 && !hasValidator(headers)) return 'no-freshness';
  const declaredLength = Number(headers['content-length']);
  if (Number.isFinite(declaredLength) && declaredLength > maxEntryBytes) return 'too-large';
  return undefined;
}

/**
 * Names the first reason, in the library's own order (RFC 9111 §3), why `storable()` said no. This only
 * labels the decision, it does not make it.
 */
function explainUnstorable(policy: CachePolicy, requestHadAuthorization: boolean): NotStoredReason {
  const directives = responseDirectives(policy);
  if (directives['no-store'] !== undefined) return 'origin-no-store';
  if (directives.private !== undefined) return 'private';
  if (requestHadAuthorization) return 'authorization';
  // Left: a status the library does not understand (206, 5xx…) or may not store without explicit freshness.
  return 'status';
}
