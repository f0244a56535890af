import type { IncomingHttpHeaders } from 'node:http';
import { plainReply } from '../reply/plain-reply.js';
import type { Reply, RequestContext } from './context.js';

/** The methods the edge forwards, for `Allow`. */
export const FORWARDED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * Requests that pass the gate (so a blocked host still gets its 451 and its evidence line) but that the
 * edge answers itself instead of forwarding; undefined for the rest, which go to the cache or the origin.
 * - `OPTIONS *` asks about a server in general (RFC 9110 §9.3.7), not about a resource. The edge cannot
 *   forward it, because undici, the upstream client, sends origin-form targets only: 501 says so.
 * - TRACE: 405. An origin that echoes it would show the client the forwarding headers the edge adds and the
 *   credentials its browser attached (cross-site tracing); nginx and most CDNs refuse it too.
 * - OPTIONS with `Max-Forwards: 0`: the edge is the last recipient it may reach (RFC 9110 §7.6.2), so it
 *   answers for itself: 200 with the methods it forwards. A larger value is decremented on the way up
 *   (forward-headers.ts).
 */
export function answeredHere(ctx: RequestContext): Reply | undefined {
  const method = ctx.req.method;
  if (method !== 'OPTIONS' && method !== 'TRACE') return undefined;
  if (method === 'TRACE') {
    return plainReply(405, 'TRACE is not forwarded.', { allow: FORWARDED_METHODS });
  }
  if (ctx.path === '*') return plainReply(501, 'OPTIONS * is not forwarded to origins.');
  if (maxForwards(ctx.req.headers) === 0) {
    return { status: 200, headers: { allow: FORWARDED_METHODS, 'content-length': '0' }, body: null };
  }
  return undefined;
}

/** `Max-Forwards` (RFC 9110 §7.6.2: 1*DIGIT) as a number; undefined when absent or not a number. */
export function maxForwards(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['max-forwards'];
  return typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}
