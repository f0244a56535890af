import type CachePolicy from 'http-cache-semantics';
import type { RequestContext } from './cache-context.js';
import { hasValidator, type PolicyRequest } from './policy.js';
import { storedRequestHeaders } from './request-headers.js';
import type { StoredResponse } from './stores/store.js';
import type { StoreResult } from './types.js';
import { variantKey, varyFields } from './vary.js';

/** The request a stored policy is built from: trimmed to the headers it will need later. */
export function storageRequest(context: RequestContext, vary: readonly string[]): PolicyRequest {
  const { policyRequest } = context;
  return { ...policyRequest, headers: storedRequestHeaders(policyRequest.headers, vary) };
}

/**
 * Builds the entry to store for `policy` and `body`. It expires once freshness and the stale windows are
 * over — plus `staleRetentionMs` when it has a validator, so it can still be refreshed by a cheap 304.
 */
export function buildEntry(
  context: RequestContext,
  body: Buffer,
  policy: CachePolicy,
  surrogateKeys: readonly string[],
): StoredResponse {
  const { cache, request, key } = context;
  const serialised = policy.toObject();
  const retentionMs = hasValidator(serialised.resh) ? cache.staleRetentionMs : 0;
  const entry: StoredResponse = {
    key,
    variant: variantKey(varyFields(serialised.resh.vary), context.policyRequest.headers) ?? '',
    host: request.host,
    path: request.path,
    surrogateKeys,
    policy: serialised,
    body,
    expiresAt: cache.clock() + policy.timeToLive() + retentionMs,
  };
  return entry;
}

/** Stores an entry; a failing store is counted and reported, never thrown (degrade, don't die). */
export async function storeEntry(context: RequestContext, entry: StoredResponse): Promise<StoreResult> {
  try {
    return (await context.cache.store.set(entry)) ? 'stored' : 'too-large';
  } catch {
    context.cache.counters.storeErrors += 1;
    return 'store-error';
  }
}

/** Removes one stored variant (its origin now answers with something that may not be stored). */
export async function deleteStored(context: RequestContext, entry: StoredResponse): Promise<void> {
  try {
    await context.cache.store.delete({ kind: 'key', key: entry.key, variant: entry.variant });
  } catch {
    context.cache.counters.storeErrors += 1;
  }
}
