import type { Readable } from 'node:stream';
import type { RequestContext } from './cache-context.js';
import { type CacheStatusFacts, formatCacheStatus, prependCacheStatus } from './cache-status.js';
import { isNotModified, notModifiedHeaders } from './client-conditionals.js';
import type { Found } from './lookup.js';
import { ttlSeconds } from './policy.js';
import type {
  CacheOutcome,
  CacheReply,
  HeaderMap,
  NotStoredReason,
  OriginResponse,
  StoreResult,
} from './types.js';

/** The parts of a reply before Cache-Status is added. */
export interface ReplyParts {
  status: number;
  /** Becomes the reply's headers, Cache-Status added in place: the reply's own object (`asReplyHeaders`). */
  headers: Record<string, string | string[]>;
  body: Readable | Buffer | null;
  outcome: CacheOutcome;
  facts: CacheStatusFacts;
  notStored?: NotStoredReason | undefined;
  storing?: Promise<StoreResult> | undefined;
  collapsed?: boolean | undefined;
  /** Cache-Status `ttl`, when not already in `facts`. */
  ttlSeconds?: number | undefined;
}

/** Assembles a `CacheReply` with this cache's Cache-Status member first. */
export function makeReply(name: string, parts: ReplyParts): CacheReply {
  const cacheStatus = formatCacheStatus(name, parts.facts, parts.ttlSeconds ?? parts.facts.ttlSeconds);
  const { headers } = parts;
  headers['cache-status'] = prependCacheStatus(headers, cacheStatus);
  const reply: CacheReply = {
    status: parts.status,
    headers,
    body: parts.body,
    outcome: parts.outcome,
    cacheStatus,
  };
  if (parts.notStored !== undefined) reply.notStored = parts.notStored;
  if (parts.storing !== undefined) reply.storing = parts.storing;
  if (parts.collapsed) reply.collapsed = true;
  return reply;
}

/**
 * One response's headers (an origin's, as the cache forwards it) as its reply's own: the object itself,
 * or a copy when some value is undefined. A forwarded response's headers were copied once more here, for
 * every pass-through (~3,200 instructions, bench:instructions); a stored response's, which every hit
 * shares, are copied with `definedHeaders`. Not header-copy.ts's `withoutFields` with a predicate given
 * the value too: its name-only filters then read every value, and a pass-through counted ~3,500 more.
 */
export function asReplyHeaders(headers: HeaderMap): Record<string, string | string[]> {
  for (const name in headers) {
    if (headers[name] === undefined) return definedHeaders(headers);
  }
  return headers as Record<string, string | string[]>;
}

/** A copy of `headers` without the undefined ones. */
export function definedHeaders(headers: HeaderMap): Record<string, string | string[]> {
  const defined: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) defined[name] = value;
  }
  return defined;
}

/**
 * Answers from a stored response: headers from http-cache-semantics (`Age` and `Date` updated, hop-by-hop
 * removed), Content-Length of the stored body, no body for HEAD, and 304 when the client's validators
 * match (client-conditionals.ts).
 */
export function replyFromStored(
  context: RequestContext,
  found: Found,
  outcome: CacheOutcome,
  facts: CacheStatusFacts,
  collapsed = false,
): CacheReply {
  const { entry, policy } = found;
  const status = entry.policy.st;
  // Read, never written: a fresh hit's headers are the answer fresh-answers.ts keeps for later hits.
  const headers = (found.headers ?? policy.responseHeaders()) as Readonly<Record<string, string | string[]>>;
  const ttl = found.ttlSeconds ?? ttlSeconds(policy);
  // Validators are the stored response's own: its Date is when it was generated or validated (RFC 9111
  // §4.3.2), where the served headers' Date is now.
  if (isNotModified(context.request.headers, status, entry.policy.resh)) {
    const notModified = notModifiedHeaders(headers);
    return makeReply(context.cache.name, {
      status: 304,
      headers: notModified,
      body: null,
      outcome,
      facts,
      collapsed,
      ttlSeconds: ttl,
    });
  }
  const withBody = mayHaveBody(status);
  const body = withBody && context.request.method !== 'HEAD' ? entry.body : null;
  const reply = makeReply(context.cache.name, {
    status,
    headers: definedHeaders(headers),
    body,
    outcome,
    facts,
    collapsed,
    ttlSeconds: ttl,
  });
  // On the reply's own copy of the headers.
  if (withBody) reply.headers['content-length'] = String(entry.body.length);
  return reply;
}

const HIT_FACTS: CacheStatusFacts = Object.freeze({ hit: true });

/**
 * A fresh hit's reply: `replyFromStored`'s, except that when the answer was kept (fresh-answers.ts) and the
 * client's validators do not make it a 304, its headers are one frozen object shared by every hit of that
 * answer (`headersShared`), made by the first: a hit then copies no headers and formats nothing (~2,000
 * instructions, bench:instructions).
 */
export function hitReply(context: RequestContext, found: Found): CacheReply {
  const { entry, answer } = found;
  const status = entry.policy.st;
  if (answer === undefined || isNotModified(context.request.headers, status, entry.policy.resh)) {
    return replyFromStored(context, found, 'hit', HIT_FACTS);
  }
  let hit = answer.hit;
  if (hit === undefined) {
    const made = replyFromStored(context, found, 'hit', HIT_FACTS);
    hit = { status: made.status, headers: Object.freeze(made.headers), cacheStatus: made.cacheStatus };
    answer.hit = hit;
  }
  const body = mayHaveBody(status) && context.request.method !== 'HEAD' ? entry.body : null;
  return {
    status,
    headers: hit.headers,
    headersShared: true,
    body,
    outcome: 'hit',
    cacheStatus: hit.cacheStatus,
  };
}

/** Whether a response with `status` carries content (RFC 9110 §6.4.1). */
export function mayHaveBody(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

/** Bodies up to this size are read and dropped, keeping the origin connection reusable. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/**
 * Gets rid of an origin body nobody will read: an empty or small declared body is drained so the
 * connection can be reused; anything else is destroyed rather than downloaded for nothing.
 */
export function discardBody(response: OriginResponse): void {
  const { body } = response;
  if (body.destroyed) return;
  const declared = Number(response.headers['content-length']);
  const empty = !mayHaveBody(response.status);
  if (empty || (Number.isFinite(declared) && declared <= DRAIN_LIMIT_BYTES)) {
    body.on('error', () => {});
    body.resume();
  } else {
    body.destroy();
  }
}
