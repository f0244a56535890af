import { admitResponse, type FlightPlan } from './admit-response.js';
import type { RequestContext } from './cache-context.js';
import type { Flight } from './flight.js';
import type { Found } from './lookup.js';
import { allowsStaleIfError, withFieldsAddedBy304 } from './policy.js';
import { discardBody, replyFromStored } from './replies.js';
import {
  headerValue,
  joinedHeaders,
  originRequestHeaders,
  policyResponseHeaders,
} from './request-headers.js';
import { notStoredReason } from './storability.js';
import { buildEntry, deleteStored, storageRequest, storeEntry } from './stored-entries.js';
import { withoutSurrogateHeaders } from './surrogate-keys.js';
import type { CacheReply, HeaderMap, OriginResponse } from './types.js';
import { varyFields } from './vary.js';

/** RFC 5861 §4: the statuses for which stale-if-error may replace the origin's answer. */
const STALE_IF_ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504]);

/**
 * The `proxy` phase for a cacheable GET: one origin request for `flight` — conditional when a stored
 * response is being revalidated — and the reply for the request that started it. Settles the flight for
 * its waiters in every path. Rejects with fetchOrigin's error when the origin fails and no stale response
 * may be served instead.
 */
export async function runFlight(
  context: RequestContext,
  flight: Flight,
  plan: FlightPlan,
): Promise<CacheReply> {
  const { stale } = plan;
  const headers =
    stale === undefined ? originRequestHeaders(context.request.headers) : revalidationHeaders(context, stale);
  let response: OriginResponse;
  try {
    response = await context.fetchOrigin({ method: 'GET', headers }, flight.signal);
  } catch (error) {
    flight.settle({ kind: 'origin-failed', error });
    if (stale !== undefined && allowsStaleIfError(stale.policy, context.policyRequest)) {
      return staleIfErrorReply(context, stale, undefined);
    }
    throw error;
  }
  flight.responded();
  if (stale !== undefined && response.status === 304)
    return revalidated(context, flight, plan, stale, response);
  if (
    stale !== undefined &&
    STALE_IF_ERROR_STATUSES.has(response.status) &&
    allowsStaleIfError(stale.policy, context.policyRequest)
  ) {
    discardBody(response);
    flight.settle({ kind: 'origin-failed', status: response.status });
    return staleIfErrorReply(context, stale, response.status);
  }
  return admitResponse(context, flight, plan, response);
}

/**
 * The client's headers with the stored response's validators (http-cache-semantics'
 * `revalidationHeaders`: If-None-Match / If-Modified-Since, RFC 9111 §4.3.1).
 */
function revalidationHeaders(context: RequestContext, stale: Found): HeaderMap {
  const { request } = context;
  const incoming = {
    ...context.policyRequest,
    headers: { ...joinedHeaders(originRequestHeaders(request.headers)), host: request.host },
  };
  const headers: HeaderMap = stale.policy.revalidationHeaders(incoming);
  // The policy compared the normalised host; what the client sent goes on (the edge sets the upstream Host).
  headers.host = headerValue(request.headers, 'host');
  return headers;
}

/** A 304 refreshes the stored response's headers and freshness, and its body is served again (RFC 9111 §4.3.4). */
async function revalidated(
  context: RequestContext,
  flight: Flight,
  plan: FlightPlan,
  stale: Found,
  response: OriginResponse,
): Promise<CacheReply> {
  discardBody(response);
  const headers = policyResponseHeaders(withoutSurrogateHeaders(response.headers));
  const request = storageRequest(context, varyFields(stale.entry.policy.resh.vary));
  const revalidation = stale.policy.revalidatedPolicy(request, { status: 304, headers });
  if (revalidation.modified || !revalidation.matches) {
    // §4.3.4: a 304 that selects no stored response cannot refresh it; ask once for the full response.
    return runFlight(context, flight, { fwd: plan.fwd });
  }
  const policy = withFieldsAddedBy304(revalidation.policy, headers, request, context.cache.Policy);
  const entry = buildEntry(context, stale.entry.body, policy, stale.entry.surrogateKeys);
  const found = { entry, policy };
  const merged = entry.policy.resh as Record<string, string | string[]>;
  const hadAuthorization = context.policyRequest.headers.authorization !== undefined;
  // The refreshed headers may now forbid storing (e.g. no-store): the body was still validated for this request.
  const refused = notStoredReason(policy, merged, hadAuthorization, context.cache.maxEntryBytes);
  const stored = refused === undefined ? await storeEntry(context, entry) : refused;
  if (refused !== undefined) await deleteStored(context, stale.entry);
  flight.settle({ kind: 'entry', entry, outcome: 'revalidated', fwdStatus: 304 });
  const facts = { fwd: 'stale' as const, fwdStatus: 304, stored: stored === 'stored' };
  const reply = replyFromStored(
    context,
    found,
    'revalidated',
    stored === 'stored' ? facts : { ...facts, detail: stored },
  );
  // A cookie the 304 sets answers this request only: never stored (withFieldsAddedBy304), never handed to
  // the flight's waiters, but this client gets it (RFC 9111 §4.3.4). The reply's headers are its own copy.
  const setCookie = response.headers['set-cookie'];
  if (setCookie !== undefined) reply.headers['set-cookie'] = setCookie;
  return reply;
}

/** RFC 5861 §4: the origin failed and the stored response allows being served stale meanwhile. */
export function staleIfErrorReply(
  context: RequestContext,
  stale: Found,
  status: number | undefined,
): CacheReply {
  const facts = { fwd: 'stale' as const, fwdStatus: status, detail: 'stale-if-error' };
  return replyFromStored(context, stale, 'stale', facts);
}
