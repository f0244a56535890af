import type CachePolicy from 'http-cache-semantics';
import { type FreshAnswer, keepFreshAnswer, keptFreshAnswer } from './fresh-answers.js';
import { atInstant, policyNow } from './policy.js';
import type { LazyPolicyRequest } from './request-headers.js';
import type { StoredResponse } from './stores/store.js';
import {
  type HeaderSource,
  hasVariantValues,
  parseVariantKey,
  type VariantValues,
  varyFields,
} from './vary.js';

/** A stored response selected for a request, with its live policy. */
export interface Found {
  readonly entry: StoredResponse;
  readonly policy: CachePolicy;
  /** The headers to serve it with, when the evaluation already computed them (Age and Date set); read-only. */
  readonly headers?: Readonly<CachePolicy.Headers>;
  /** Cache-Status `ttl`, when the evaluation already computed it. */
  readonly ttlSeconds?: number;
  /** The kept answer `headers` and `ttlSeconds` come from, for a fresh hit (fresh-answers.ts). */
  readonly answer?: FreshAnswer;
}

/** What the store holds for a request (the `cacheLookup` phase's verdict). */
export type Lookup =
  | { readonly kind: 'uri-miss' | 'vary-miss' }
  | { readonly kind: 'fresh' | 'stale-while-revalidate' | 'revalidate'; readonly found: Found };

/**
 * Selects the stored variant for a request and asks http-cache-semantics how it may be used:
 * `fresh` (serve), `stale-while-revalidate` (serve, refresh in background), `revalidate` (ask the origin
 * first). `uri-miss` when nothing is stored under the key, `vary-miss` when no variant matches.
 */
export function lookupStored(
  entries: readonly StoredResponse[],
  request: LazyPolicyRequest,
  policyOf: (entry: StoredResponse) => CachePolicy,
): Lookup {
  if (entries.length === 0) return { kind: 'uri-miss' };
  const entry = newestMatching(entries, request);
  if (entry === undefined) return { kind: 'vary-miss' };
  const policy = policyOf(entry);
  const kept = keptFreshAnswer(policy);
  if (kept !== undefined) {
    const found = { entry, policy, headers: kept.headers, ttlSeconds: kept.ttlSeconds, answer: kept };
    return { kind: 'fresh', found };
  }
  const at = policyNow(policy);
  const evaluation = atInstant(at, () => policy.evaluateRequest(request));
  if (evaluation.response === undefined) return { kind: 'revalidate', found: { entry, policy } };
  if (evaluation.revalidation !== undefined) {
    const found = { entry, policy, headers: evaluation.response.headers };
    return { kind: 'stale-while-revalidate', found };
  }
  const answer = keepFreshAnswer(policy, evaluation.response.headers, at);
  return {
    kind: 'fresh',
    found: { entry, policy, headers: answer.headers, ttlSeconds: answer.ttlSeconds, answer },
  };
}

/**
 * The most recent stored response the request selects (RFC 9111 §4.1: "the most recent one" when several
 * are suitable). Several can match when an origin changed its `Vary`: an old entry stored without Vary
 * matches every request, and must not shadow the fresh variants stored after it.
 */
function newestMatching(
  entries: readonly StoredResponse[],
  request: LazyPolicyRequest,
): StoredResponse | undefined {
  let newest: StoredResponse | undefined;
  for (const entry of entries) {
    if (!variantMatches(entry, request)) continue;
    if (newest === undefined || entry.policy.t > newest.policy.t) newest = entry;
  }
  return newest;
}

/** Each stored entry's Vary fields and parsed variant key (`null`: no request selects it), made once. */
const variantsOf = new WeakMap<StoredResponse, { fields: readonly string[]; values: VariantValues } | null>();

/** Whether `entry` is the Vary variant that `request`'s headers select (RFC 9111 §4.1). */
export function variantMatches(entry: StoredResponse, request: HeaderSource): boolean {
  let variant = variantsOf.get(entry);
  if (variant === undefined) {
    const fields = varyFields(entry.policy.resh.vary);
    const values = parseVariantKey(fields, entry.variant);
    variant = values === undefined ? null : { fields, values };
    variantsOf.set(entry, variant);
  }
  return variant !== null && hasVariantValues(variant.fields, variant.values, request);
}
