import type { Policy } from '@edge451/policy';
import { blockedReply, type LegalNotice } from '../reply/blocked-reply.js';
import { CONTINUE, type RequestContext, replyWith, type Verdict } from './context.js';

/**
 * Phase `decide`: asks the policy whether (host, client country, now) is under an order. Blocked → 451.
 * `currentPolicy` is read per request, so a change applied by the admin API takes effect on the next one.
 */
export function makeDecide(currentPolicy: () => Policy, legal: LegalNotice, now: () => number = Date.now) {
  return function decide(ctx: RequestContext): Verdict {
    const host = ctx.host ?? '';
    const country = ctx.client?.country ?? null;
    const decision = currentPolicy().decide({ host, country, at: now() });
    ctx.decision = decision;
    if (!decision.blocked) return CONTINUE;
    return replyWith(blockedReply(ctx.req.headers, legal, { host, country, decision, requestId: ctx.id }));
  };
}
