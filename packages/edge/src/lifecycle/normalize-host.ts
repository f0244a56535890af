import { normalizeHost as normalizeHostRule } from '@edge451/policy';
import { plainReply } from '../reply/plain-reply.js';
import { boundedMemo } from '../support/bounded-memo.js';
import { CONTINUE, type RequestContext, replyWith, type Verdict } from './context.js';

// Visible ASCII only: Node decodes header bytes as latin1, so a raw UTF-8 Host would otherwise reach
// IDNA mapping and be "helpfully" converted. Clients send IDNs as A-labels (DECISIONS #10).
const visibleAscii = /^[\x21-\x7e]+$/;

type HostOrProblem = { host: string } | { problem: string };

/** The authority → normalised host, or why it is not one. A few authorities come back on every request. */
const hostOf = boundedMemo((authority): HostOrProblem => {
  if (!visibleAscii.test(authority)) return { problem: 'Invalid Host.' };
  const normalized = normalizeHostRule(authority);
  return normalized.ok ? { host: normalized.host } : { problem: `Invalid Host: ${normalized.reason}` };
}, 1024);

/**
 * Phase `normalizeHost`: the authority from `accept` → the normalised host every later phase uses
 * (routing, policy, cache key). 400 for anything that is not a valid host.
 */
export function normalizeHost(ctx: RequestContext): Verdict {
  const found = hostOf(ctx.authority ?? '');
  if ('problem' in found) return replyWith(plainReply(400, found.problem));
  ctx.host = found.host;
  return CONTINUE;
}
