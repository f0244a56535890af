import CachePolicy from 'http-cache-semantics';
import { hasValidator, POLICY_OPTIONS, responseDirectives } from './policy.js';
import { lowerCaseDirectiveNames } from './request-headers.js';
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

/** Distinct Cache-Control values remembered; an origin sends a handful, more start the memo over. */
const MAX_REMEMBERED_CACHE_CONTROLS = 256;
const refusals = new Map<string, NotStoredReason | null>();

/**
 * Why a response's Cache-Control by itself forbids storing it (`origin-no-store`, `private`), or undefined
 * when it does not: what `notStoredReason` would say for any request and status, without building the
 * full policy of each response (a pass-through of a `no-store` URL built one per request, ~200 bytes of
 * it promoted to old space). http-cache-semantics decides, once per distinct value, on a probe that meets
 * every other condition of `storable()` (a GET without Authorization or Cache-Control answered 200, which
 * is cacheable by default): if it refuses the probe, the field is what refuses, and it refuses every
 * response that carries it. storability.test.ts pins this to the full decision.
 */
export function refusedByCacheControl(cacheControl: string | undefined): NotStoredReason | undefined {
  if (cacheControl === undefined) return undefined;
  let refusal = refusals.get(cacheControl);
  if (refusal === undefined) {
    refusal = probeRefusal(lowerCaseDirectiveNames(cacheControl)) ?? null;
    if (refusals.size >= MAX_REMEMBERED_CACHE_CONTROLS) refusals.clear();
    refusals.set(cacheControl, refusal);
  }
  return refusal ?? undefined;
}

function probeRefusal(cacheControl: string): NotStoredReason | undefined {
  const probe = new CachePolicy(
    { method: 'GET', url: '/', headers: {} },
    { status: 200, headers: { 'cache-control': cacheControl } },
    POLICY_OPTIONS,
  );
  return probe.storable() ? undefined : explainUnstorable(probe, false);
}
