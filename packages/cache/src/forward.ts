import type { CacheStatusFacts } from './cache-status.js';
import { isNotModified, notModifiedHeaders } from './client-conditionals.js';
import { definedHeaders, discardBody, makeReply, mayHaveBody } from './replies.js';
import { withoutSurrogateHeaders } from './surrogate-keys.js';
import type {
  CacheOutcome,
  CacheReply,
  CacheRequest,
  HeaderMap,
  NotStoredReason,
  OriginResponse,
} from './types.js';

/**
 * Turns an origin response that is not being stored into the client's reply: surrogate headers removed,
 * body streamed through untouched (never buffered), no body for HEAD, and — except for bypassed
 * requests, whose conditionals went to the origin — 304 when the client's validators match.
 * `clientPresent: false` discards the body (the request that wanted it has gone).
 */
export function forwardResponse(
  name: string,
  request: CacheRequest,
  response: OriginResponse,
  outcome: CacheOutcome,
  facts: CacheStatusFacts,
  notStored: NotStoredReason,
  clientPresent = true,
): CacheReply {
  const headers: HeaderMap = withoutSurrogateHeaders(response.headers);
  const parts = { status: response.status, headers, outcome, facts, notStored };
  if (outcome !== 'bypass' && isNotModified(request.headers, response.status, headers)) {
    discardBody(response);
    return makeReply(name, {
      ...parts,
      status: 304,
      headers: notModifiedHeaders(definedHeaders(headers)),
      body: null,
    });
  }
  if (!clientPresent || request.method === 'HEAD' || !mayHaveBody(response.status)) {
    discardBody(response);
    return makeReply(name, { ...parts, body: null });
  }
  return makeReply(name, { ...parts, body: response.body });
}
