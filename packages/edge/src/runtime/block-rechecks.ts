import type { Policy } from '@edge451/policy';
import type { Logger } from 'pino';
import type { PolicyView } from './policy-state.js';

/**
 * What made the edge look again at what the policy blocks: a new snapshot, or an order's window opening or
 * closing with no change (`Policy.nextBoundaryAfter`).
 */
export type RecheckReason = 'policy-change' | 'window-boundary';

/**
 * One look at what the policy blocks: `policy` at `at`, after `before` at `beforeAt` (the previous look).
 * Every listener of one look gets the same instant, so what they decide agrees.
 */
export type Recheck = {
  readonly reason: RecheckReason;
  readonly policy: Policy;
  readonly at: number;
  readonly before: Policy;
  readonly beforeAt: number;
};

/**
 * What started a block a recheck found, for its log lines. Blocking is "an order in its window covers the
 * host and country": with no change, only a window opening can start one (an `until` passing only lifts).
 */
export function blockCause(reason: RecheckReason): 'policy-change' | 'window-opened' {
  return reason === 'policy-change' ? 'policy-change' : 'window-opened';
}

export type RecheckListener = (recheck: Recheck) => void;

/** Where cutting open exchanges and purging the cache hear that a block may have started. */
export type Rechecks = { onRecheck(listener: RecheckListener): void };

/** setTimeout's longest delay: a longer one fires at once (Node warns and uses 1 ms). */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Says when a block may have started where requests are decided (a node, or each cluster worker with its own
 * copy of the policy): on every change of the policy, and when an order's window opens without one. A
 * request is decided when it arrives; a tunnel opened before an order's `from` would otherwise keep
 * carrying the host to the blocked country after it, until the next change.
 *
 * One timer, for the policy's next window boundary, re-armed after every change and every boundary. It is
 * unref'd (it never keeps a process alive) and its delay is bounded by setTimeout's limit (about 24.8
 * days): a boundary further away is reached through intermediate wake-ups that find nothing due. A timer
 * can fire a little before the wall clock reaches its instant (timers run on the monotonic clock), so a
 * boundary is acted on only once `Date.now()` has reached it.
 */
export class BlockRechecks implements Rechecks {
  private readonly listeners: RecheckListener[] = [];
  private last: { policy: Policy; at: number };
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    view: PolicyView,
    private readonly logger: Logger,
  ) {
    this.last = { policy: view.current(), at: Date.now() };
    view.onChange((after) => this.look(after, 'policy-change'));
    this.arm();
  }

  onRecheck(listener: RecheckListener): void {
    this.listeners.push(listener);
  }

  /** Stops the timer for good (the node is closing); changes are still passed on. */
  close(): void {
    this.closed = true;
    this.disarm();
  }

  private look(policy: Policy, reason: RecheckReason): void {
    const recheck = { reason, policy, at: Date.now(), before: this.last.policy, beforeAt: this.last.at };
    this.last = { policy, at: recheck.at };
    for (const listener of this.listeners) {
      // A listener that throws must neither fail the change (already stored) nor stop the timer.
      try {
        listener(recheck);
      } catch (error) {
        this.logger.error({ err: error, reason, policy_version: policy.version }, 'block recheck failed');
      }
    }
    this.arm();
  }

  /** For the boundary after the last look, not after now: one passed in between is still due. */
  private arm(): void {
    this.disarm();
    if (this.closed) return;
    const due = this.last.policy.nextBoundaryAfter(this.last.at);
    if (due === undefined) return;
    const delay = Math.min(Math.max(due - Date.now(), 0), MAX_DELAY_MS);
    this.timer = setTimeout(() => this.fire(due), delay).unref();
  }

  private fire(due: number): void {
    this.timer = undefined;
    if (Date.now() < due) {
      this.arm();
      return;
    }
    this.logger.info(
      { boundary: new Date(due).toISOString(), policy_version: this.last.policy.version },
      'order window boundary passed: open exchanges and the cache checked again',
    );
    this.look(this.last.policy, 'window-boundary');
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
