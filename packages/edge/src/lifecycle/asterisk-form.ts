import { plainReply } from '../reply/plain-reply.js';
import type { Reply, RequestContext } from './context.js';

/**
 * `OPTIONS *` asks about a server in general (RFC 9110 §9.3.7), not about a resource. It passes the gate
 * like every request, so a blocked host still gets its 451 and its evidence line; past the gate the edge
 * cannot forward it, because undici, the upstream client, sends origin-form targets only. A 501 says so
 * instead of a 500. (`accept` refuses `*` with any other method.)
 */
export function isAsteriskForm(ctx: RequestContext): boolean {
  return ctx.path === '*';
}

export function refuseAsteriskForm(ctx: RequestContext): Reply {
  ctx.outcome = 'rejected';
  return plainReply(501, 'OPTIONS * is not forwarded to origins.');
}
