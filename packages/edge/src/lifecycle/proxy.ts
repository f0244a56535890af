import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { CancelSignal } from '@edge451/cache';
import { EdgeError, toEdgeError } from '../errors.js';
import { toClientResponseHeaders, upstreamRequestHeaders } from '../upstream/forward-headers.js';
import type { OriginPools, OriginResponse } from '../upstream/origin-pools.js';
import type { Reply, RequestContext } from './context.js';

/** The origin request a phase may adjust before it is sent (the cache adds conditional headers). */
export type OriginCall = (
  request: { method: string; headers: Record<string, string | string[] | undefined> },
  signal: CancelSignal,
) => Promise<OriginResponse>;

/**
 * Phase `proxy`: sends the request to the site's origin over its keep-alive pool, streaming the body both
 * ways. Returns a function bound to this request so the cache can call it (at most once per coalesced miss)
 * with its own conditional headers. Origin failures reject with an EdgeError (502/504).
 */
export function originCallFor(ctx: RequestContext, pools: OriginPools): OriginCall {
  const site = ctx.site;
  if (site === undefined) throw new Error('proxy phase reached without a routed site');
  const body = hasRequestBody(ctx) ? (ctx.req as Readable) : null;
  // The 100 Continue node:http held back (traffic-server.ts): the request passed the gate and goes on.
  let mayContinue = body !== null && expectsContinue(ctx);
  return async (request, signal) => {
    if (mayContinue) {
      mayContinue = false;
      ctx.res.writeContinue();
    }
    try {
      return await pools.request(site, {
        method: request.method,
        path: ctx.path,
        headers: request.headers,
        body,
        signal,
      });
    } catch (error) {
      const failure = toEdgeError(error);
      // A request body the client malformed or cut off fails the upload too: that is the client's doing,
      // not the origin's (and must not count as an origin error).
      if (failure.source !== 'client' && body !== null && clientCutTheBody(body)) {
        throw new EdgeError('EDGE_BAD_REQUEST', 'client', 'the request body could not be read', {
          cause: error,
        });
      }
      throw failure;
    }
  };
}

/**
 * Turns an origin (or cache) response into the reply for the client: hop-by-hop stripped, Via and site
 * extras added, a Location on the origin's address rewritten, in the response's own headers object
 * (undici and the cache make one per response). A 426 keeps its `Upgrade` (keepUpgradeRequired).
 */
export function replyFromOrigin(
  ctx: RequestContext,
  response: { status: number; headers: OriginResponse['headers']; body: Reply['body'] },
): Reply {
  // Read first: the hop-by-hop rule drops it from the client's headers.
  const upgrade = response.status === 426 ? response.headers.upgrade : undefined;
  const headers = toClientResponseHeaders(response.headers, ctx);
  if (upgrade !== undefined) keepUpgradeRequired(headers, upgrade, ctx.res.shouldKeepAlive);
  return { status: response.status, headers, body: response.body };
}

/**
 * RFC 9110 §15.5.22: a 426 (Upgrade Required) MUST carry `Upgrade`, naming the protocols the server would
 * switch to; besides a 101 it is the one response that must. The hop-by-hop rule (forward-headers.ts) drops
 * `Upgrade` from every response, rightly for the rest: this puts the origin's back on a 426 only, on a
 * refused upgrade and on an ordinary request alike (an origin that wants TLS or h2c answers a plain GET
 * 426), with the `upgrade` connection option §7.8 asks of whoever sends the field. Nothing else the
 * origin's `Connection` named goes on. Setting `Connection` stops node:http from writing its own, so
 * `close` is added when the connection ends after this answer.
 */
function keepUpgradeRequired(
  headers: OutgoingHttpHeaders,
  upgrade: string | string[],
  keepAlive: boolean,
): void {
  headers.upgrade = Array.isArray(upgrade) ? upgrade.join(', ') : upgrade;
  headers.connection = keepAlive ? 'upgrade' : 'upgrade, close';
}

/** Phase `proxy` without a cache: one origin request, the reply streams its body. */
export async function proxy(ctx: RequestContext, pools: OriginPools): Promise<Reply> {
  const call = originCallFor(ctx, pools);
  const response = await call(
    { method: ctx.req.method ?? 'GET', headers: upstreamRequestHeaders(ctx) },
    ctx.abort.signal,
  );
  return replyFromOrigin(ctx, response);
}

/** Whether the client's request carries content: the one place of that rule for forwarding and the cache. */
export function hasRequestBody(ctx: RequestContext): boolean {
  const headers = ctx.req.headers;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Whether the request body failed because the client's connection ended before it did (a cut upload, or
 * one node:http's parser refused, which closes the connection): node:http then destroys the request with
 * its own `ECONNRESET` "aborted" error. An origin failure destroys the body too, but with undici's error
 * (`connect ECONNREFUSED …`), which must stay the origin's.
 */
function clientCutTheBody(body: Readable): boolean {
  const error = body.errored as NodeJS.ErrnoException | null;
  return error !== null && error.code === 'ECONNRESET' && error.message === 'aborted';
}

function expectsContinue(ctx: RequestContext): boolean {
  return ctx.req.headers.expect?.toLowerCase() === '100-continue';
}
