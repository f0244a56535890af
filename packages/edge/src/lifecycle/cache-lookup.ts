import type { OutgoingHttpHeaders } from 'node:http';
import type { CacheOutcome, CacheReply, HttpCache } from '@edge451/cache';
import { toClientResponseHeaders, upstreamRequestHeaders } from '../upstream/forward-headers.js';
import type { OriginPools } from '../upstream/origin-pools.js';
import type { Outcome, Reply, RequestContext } from './context.js';
import { hasRequestBody, originCallFor, replyFromOrigin } from './proxy.js';
import type { Site } from './route.js';

// Cache words → the request outcome words of logs and metrics.
const outcomeOf: Record<CacheOutcome, Outcome> = {
  hit: 'hit',
  stale: 'hit',
  revalidated: 'hit',
  miss: 'miss',
  bypass: 'proxied',
};

/**
 * Phases `cacheLookup → proxy → store`, after the decision: the cache answers from its store, or calls the
 * origin (at most once per coalesced miss) and stores what it may. The cache key is built from the
 * normalised host and the forwarding headers the edge rebuilt itself, never from what the client claimed,
 * so no client header can poison what another client is served. A reply the store holds comes back
 * without a promise (`serveNow`), so a hit is answered in the turn its request arrived in.
 */
export function serveThroughCache(
  ctx: RequestContext,
  cache: HttpCache,
  pools: OriginPools,
): Reply | Promise<Reply> {
  const headers = upstreamRequestHeaders(ctx);
  const request = {
    method: ctx.req.method ?? 'GET',
    host: ctx.host ?? '',
    path: ctx.path,
    headers,
    hasBody: hasRequestBody(ctx),
  };
  const served = cache.serveNow(request, originCallFor(ctx, pools), () => ctx.abort.signal);
  return served instanceof Promise
    ? served.then((reply) => clientReply(ctx, reply))
    : clientReply(ctx, served);
}

function clientReply(ctx: RequestContext, reply: CacheReply): Reply {
  ctx.cache =
    reply.notStored === undefined
      ? { outcome: reply.outcome }
      : { outcome: reply.outcome, notStored: reply.notStored };
  ctx.outcome = outcomeOf[reply.outcome];
  if (reply.headersShared) {
    return { status: reply.status, headers: sharedClientHeaders(reply.headers, ctx), body: reply.body };
  }
  return replyFromOrigin(ctx, { status: reply.status, headers: reply.headers, body: reply.body });
}

/** The client's headers made from one shared (frozen) cache reply head, for one site. */
const clientHeadersOf = new WeakMap<object, { site: Site | undefined; headers: OutgoingHttpHeaders }>();

/**
 * The client's headers for a cache reply whose headers are shared by every hit of a stored response in the
 * same second (`headersShared`): made from a copy once per site and shared in turn, frozen, so a hit
 * changes and copies nothing (node:http only reads what it is given). A Location or Content-Location is
 * pointed at each client's own scheme and host (`toClientResponseHeaders`), so such a reply gets its own.
 */
function sharedClientHeaders(shared: CacheReply['headers'], ctx: RequestContext): OutgoingHttpHeaders {
  if (shared.location !== undefined || shared['content-location'] !== undefined) {
    return toClientResponseHeaders({ ...shared }, ctx);
  }
  const made = clientHeadersOf.get(shared);
  if (made !== undefined && made.site === ctx.site) return made.headers;
  const headers = Object.freeze(toClientResponseHeaders({ ...shared }, ctx));
  clientHeadersOf.set(shared, { site: ctx.site, headers });
  return headers;
}
