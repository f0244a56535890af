import type { RequestContext } from './cache-context.js';
import type { ForwardReason } from './cache-status.js';
import { isNotModified, notModifiedHeaders } from './client-conditionals.js';
import type { Flight } from './flight.js';
import { forwardResponse } from './forward.js';
import type { Found } from './lookup.js';
import { POLICY_OPTIONS, ttlSeconds } from './policy.js';
import { asReplyHeaders, makeReply, mayHaveBody } from './replies.js';
import { headerValue, policyResponseHeaders } from './request-headers.js';
import { notStoredReason, refusedByCacheControl } from './storability.js';
import { buildEntry, deleteStored, storageRequest, storeEntry } from './stored-entries.js';
import { surrogateKeysOf, withoutSurrogateHeaders } from './surrogate-keys.js';
import { teeBody } from './tee-body.js';
import type { CacheReply, NotStoredReason, OriginResponse, StoreResult } from './types.js';
import { varyFields } from './vary.js';

/** Reasons that belong to the URL rather than to one request or moment: coalescing is turned off for a while. */
const URL_REASONS: ReadonlySet<NotStoredReason> = new Set([
  'origin-no-store',
  'private',
  'set-cookie',
  'vary-star',
  'no-freshness',
  'too-large',
]);

/** How a flight reached the origin. */
export interface FlightPlan {
  /** The stored response being revalidated, if any. */
  readonly stale?: Found | undefined;
  readonly fwd: ForwardReason;
}

/**
 * The `store` phase for a full origin response to a GET: decides storability at the headers, then either
 * releases the waiters and streams the response through, or tees it to the client and the store. The
 * leader's reply is returned as soon as the headers are known; `storing` says how the fill ended.
 */
export function admitResponse(
  context: RequestContext,
  flight: Flight,
  plan: FlightPlan,
  response: OriginResponse,
): CacheReply {
  const { cache } = context;
  const clientHeaders = withoutSurrogateHeaders(response.headers);
  // Most unstorable responses say so in their Cache-Control: no policy is built for those.
  const refused = refusedByCacheControl(headerValue(clientHeaders, 'cache-control'));
  if (refused !== undefined) return notAdmitted(context, flight, plan, response, refused);
  const responseHeaders = policyResponseHeaders(clientHeaders);
  const request = storageRequest(context, varyFields(responseHeaders.vary));
  const policy = new cache.Policy(
    request,
    { status: response.status, headers: responseHeaders },
    POLICY_OPTIONS,
  );
  const hadAuthorization = context.policyRequest.headers.authorization !== undefined;
  const reason = notStoredReason(policy, responseHeaders, hadAuthorization, cache.maxEntryBytes);
  if (reason !== undefined) return notAdmitted(context, flight, plan, response, reason);

  const surrogateKeys = surrogateKeysOf(response.headers);
  cache.uncacheable.forget(context.key);
  const notModified = isNotModified(context.request.headers, response.status, clientHeaders);
  const withClient =
    flight.leaderPresent && context.request.method !== 'HEAD' && !notModified && mayHaveBody(response.status);
  const declared = Number(responseHeaders['content-length']);
  const teed = teeBody(response.body, {
    withClient,
    maxEntryBytes: cache.maxEntryBytes,
    budget: cache.budget,
    expectedBytes: Number.isFinite(declared) ? declared : undefined,
    onAbandon: (abandoned) => {
      flight.settle({ kind: 'released' });
      if (URL_REASONS.has(abandoned)) cache.uncacheable.remember(context.key);
    },
  });
  const storing = teed.collected
    .then(async (collected): Promise<StoreResult> => {
      if (typeof collected === 'string') return collected;
      const entry = buildEntry(context, collected, policy, surrogateKeys);
      const stored = await storeEntry(context, entry);
      flight.settle({ kind: 'entry', entry, outcome: 'miss', fwdStatus: response.status });
      return stored;
    })
    .catch((): StoreResult => 'store-error')
    // Whatever happened, nobody may be left waiting on this flight.
    .finally(() => flight.settle({ kind: 'released' }));

  const facts = { fwd: plan.fwd, fwdStatus: response.status, stored: true, ttlSeconds: ttlSeconds(policy) };
  const outcome = 'miss' as const;
  // One literal per reply, not a spread of shared parts (forward.ts says why).
  if (notModified) {
    const headers = notModifiedHeaders(asReplyHeaders(clientHeaders));
    return makeReply(cache.name, { status: 304, headers, body: null, outcome, facts, storing });
  }
  const { status } = response;
  return makeReply(cache.name, {
    status,
    headers: asReplyHeaders(clientHeaders),
    body: teed.clientBody,
    outcome,
    facts,
    storing,
  });
}

/** The response may not be stored: the waiters are released and it streams through to the leader. */
function notAdmitted(
  context: RequestContext,
  flight: Flight,
  plan: FlightPlan,
  response: OriginResponse,
  reason: NotStoredReason,
): CacheReply {
  const { cache } = context;
  const serverError = response.status >= 500;
  flight.settle(serverError ? { kind: 'origin-failed', status: response.status } : { kind: 'released' });
  if (URL_REASONS.has(reason)) cache.uncacheable.remember(context.key);
  // The origin replaced the stored response with one that may not be kept: stop serving the old one.
  if (plan.stale !== undefined && !serverError) void deleteStored(context, plan.stale.entry);
  const facts = { fwd: plan.fwd, fwdStatus: response.status, detail: reason };
  return forwardResponse(cache.name, context.request, response, 'miss', facts, reason, flight.leaderPresent);
}
