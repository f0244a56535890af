import { normalizeHost as normalizeHostRule } from '@edge451/policy';
import { plainReply } from '../reply/plain-reply.js';
import { CONTINUE, type RequestContext, replyWith, type Verdict } from './context.js';

// Visible ASCII only: Node decodes header bytes as latin1, so a raw UTF-8 Host would otherwise reach
// IDNA mapping and be "helpfully" converted. Clients send IDNs as A-labels (DECISIONS #10).
const visibleAscii = /^[\x21-\x7e]+$/;

/**
 * Phase `normalizeHost`: the authority from `accept` → the normalised host every later phase uses
 * (routing, policy, cache key). 400 for anything that is not a valid host.
 */
export function normalizeHost(ctx: RequestContext): Verdict {
  const authority = ctx.authority ?? '';
  if (!visibleAscii.test(authority)) return replyWith(plainReply(400, 'Invalid Host.'));
  const normalized = normalizeHostRule(authority);
  if (!normalized.ok) return replyWith(plainReply(400, `Invalid Host: ${normalized.reason}`));
  ctx.host = normalized.host;
  return CONTINUE;
}
