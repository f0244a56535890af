import type { Decision, Policy } from '@edge451/policy';
import type { Logger } from 'pino';
import type { OpenExchanges, RequestContext } from '../lifecycle/context.js';
import { decideRequest } from '../lifecycle/decide.js';
import type { Metrics } from '../observe/metrics.js';
import { blockCause, type Rechecks } from './block-rechecks.js';

/**
 * When a block may have started (block-rechecks.ts: a policy change, or an order's window opening),
 * re-decides what is still open and cuts what is now blocked. A request is decided once, when it arrives;
 * a WebSocket tunnel lives for hours after that, so without this an order notified while a tunnel to its
 * host is open, or one whose `from` passes, would leave the blocked country connected for as long as it
 * liked.
 *
 * Off the request path: it runs on the policy's change (the admin API's, or the primary's message to a
 * worker), before the change is acknowledged on this node, and at window boundaries; with nothing open it
 * costs one size check. Each open exchange is decided again with the snapshot in force, for its host and
 * client country (with the hosts a trusted proxy claimed for it, decide.ts), at the instant of the
 * recheck; hosts and countries repeat, so each combination is decided once per recheck.
 */
export function cutWhenBlocked(
  rechecks: Rechecks,
  open: readonly OpenExchanges[],
  logger: Logger,
  metrics: Metrics,
): void {
  rechecks.onRecheck(({ policy: after, at, reason }) => {
    if (open.every((exchanges) => exchanges.size === 0)) return;
    // A listener that throws would fail the change after it was stored: log it, keep the change.
    try {
      cutBlocked(after, open, at, (ctx, kind, decision) => {
        const orderId = decision.order?.id ?? 'none';
        const country = ctx.client?.country ?? 'unknown';
        metrics.cutByBlock.inc({ kind, order_id: orderId, country });
        // The evidence that the order reached connections already open, as a `blocked` line is for requests.
        logger.info(
          {
            request_id: ctx.id,
            kind,
            host: ctx.host,
            country: ctx.client?.country ?? null,
            client_ip: ctx.client?.ip,
            order_id: decision.order?.id,
            decision: decision.reason,
            matched_host: decision.matchedHost,
            policy_version: after.version,
            reason: blockCause(reason),
          },
          'cut: its host is now blocked for the client',
        );
      });
    } catch (error) {
      logger.error({ err: error, policy_version: after.version }, 'open connections not re-decided');
    }
  });
}

type OnCut = (ctx: RequestContext, kind: OpenExchanges['kind'], decision: Decision) => void;

function cutBlocked(policy: Policy, open: readonly OpenExchanges[], at: number, onCut: OnCut): void {
  const decisions = new Map<string, Decision>();
  for (const exchanges of open) {
    // Cutting closes sockets, which remove themselves from the set later; a copy keeps the walk simple.
    for (const ctx of [...exchanges.requests()]) {
      // Not decided yet: it will be, with this policy. Blocked already: it is being answered 451.
      if (ctx.decision === undefined || ctx.decision.blocked) continue;
      // Normalised hosts and country codes hold no space.
      const key = `${ctx.client?.country ?? null} ${ctx.host} ${ctx.claimedHosts?.join(' ') ?? ''}`;
      let decision = decisions.get(key);
      if (decision === undefined) {
        decision = decideRequest(policy, ctx, at);
        decisions.set(key, decision);
      }
      if (!decision.blocked) continue;
      ctx.decision = decision;
      if (exchanges.cut(ctx)) onCut(ctx, exchanges.kind, decision);
    }
  }
}
