import { runInSlices, runToEnd } from './base-builder.js';
import { changeDocument } from './change-document.js';
import { adoptCompactedBase, compactState, compactStateInBackground } from './compaction.js';
import { type Decision, type DecisionQuery, decide } from './decide.js';
import type { PolicyDocument } from './document.js';
import { executeChange } from './execute-change.js';
import type { Order } from './order.js';
import { needsCompaction, type PolicyState } from './policy-state.js';
import { type ReplayOptions, replaySteps } from './replay.js';
import { documentOf } from './to-document.js';
import { type PolicyChange, validateChange } from './validate-change.js';
import { nextBoundary } from './window-boundaries.js';

/** Options of {@link Policy.apply}. */
export type ApplyOptions = {
  /**
   * The change was accepted once already (read back from a state directory, or forwarded by the node that
   * accepted it): its date is not checked against this node's clock again, so it replays as it was
   * applied. Default false: a change dated more than `CLOCK_SKEW_ALLOWANCE_MS` after the clock is refused.
   */
  readonly replay?: boolean;
};

/** How much a snapshot's index holds, to watch compaction. */
export type PolicyStats = {
  /** Names in the compiled base. */
  readonly baseNames: number;
  /** Names a change rewrote since the base was built (each `apply()` copies these). */
  readonly overlayNames: number;
  /** Rules of replaced or deleted orders still held by the base. */
  readonly deadRules: number;
};

/**
 * An immutable, versioned policy snapshot. Safe to share: readers keep the snapshot they hold while
 * `apply()` makes new ones, so a request is decided by one consistent policy from start to end.
 */
export interface Policy {
  /** `compilePolicy`'s `version` option (default 1), plus one per `apply()` or change `replay()` applied. */
  readonly version: number;
  /** The live orders in document order, each with its effective hosts (own + notified − lifted). */
  readonly orders: readonly Order[];
  /** The number of distinct effective host rules over all orders. */
  readonly hostCount: number;
  /** What an unknown client country means for hosts under an active order (never blocks other hosts). */
  readonly unknownCountry: 'allow' | 'block';
  readonly stats: PolicyStats;
  /** Whether the overlay or garbage is large enough that `compact()` would pay off. */
  readonly needsCompaction: boolean;
  /**
   * The change that made this snapshot, as applied: hosts normalised and `at` filled in (an omitted `at`
   * is the moment of the call). Store this form to replay a change identically elsewhere or later.
   * `undefined` for a snapshot made by `compilePolicy` or `compact()`.
   */
  readonly lastChange: PolicyChange | undefined;
  /**
   * Decides one request: normalises `host` itself (a raw `Host` value is fine), compares `country`
   * case-insensitively (`null`/`undefined`/`''` = unknown) at `at` (Date or epoch ms, default now).
   * Costs a few hash lookups per label of the host, whatever the number of hosts. Never throws.
   */
  decide(query: DecisionQuery): Decision;
  /**
   * The first instant strictly after `ms` (epoch ms) at which some order's window opens (`from`) or closes
   * (`until`); undefined when no window opens or closes after `ms`. Decisions change with time only at
   * these instants: a caller that must act when a block comes into force without a change (the edge
   * cutting open tunnels) waits for the next one. A binary search over instants computed with the snapshot.
   */
  nextBoundaryAfter(ms: number): number | undefined;
  /**
   * Validates `change` against this snapshot and returns a NEW snapshot with it applied (version + 1);
   * this one is untouched. Throws a `PolicyValidationError` listing every problem, in which case nothing
   * changed. Incremental: a notify or lift-host costs O(its hosts), not O(all hosts) (see the README).
   * A notify or lift-host dated more than `CLOCK_SKEW_ALLOWANCE_MS` after `Date.now()` is refused unless
   * `options.replay`.
   */
  apply(change: PolicyChange, options?: ApplyOptions): Policy;
  /**
   * Applies stored `changes` in order exactly as `apply(change, { replay: true })` one after the other
   * would, and returns the last snapshot: same version (this one's plus one per change applied), same
   * decisions, same document. A change that throws there is skipped here (`options.onSkipped` hears of it)
   * and the next one applies to the policy before it. Costs O(changes + their hosts) plus at most one base
   * build, where a loop of `apply()` costs O(changes²) (each copies the overlay the previous ones grew):
   * the changes are written into one private overlay, compacted at the end when `apply()` would have
   * compacted it. This snapshot is untouched, and is the result when no change applies.
   */
  replay(changes: readonly PolicyChange[], options?: ReplayOptions): Policy;
  /**
   * Like `replay()`, run in slices of about `sliceMs` (default 5) between event-loop turns, so a server
   * keeps answering meanwhile. Rejects with what `onSkipped` throws.
   */
  replayInBackground(
    changes: readonly PolicyChange[],
    options?: ReplayOptions & { readonly sliceMs?: number },
  ): Promise<Policy>;
  /** The effective policy as a document: `compilePolicy(p.toDocument())` decides exactly as `p`. O(hosts). */
  toDocument(): PolicyDocument;
  /** The same policy (same version, same decisions) with the overlay folded into a new base. O(hosts). */
  compact(): Policy;
  /**
   * Like `compact()`, built in short slices between event-loop turns; the next `apply()` on this snapshot
   * or a descendant adopts the result. `apply()` starts this by itself when `needsCompaction` (unless
   * compiled with `compaction: 'manual'`).
   */
  compactInBackground(): Promise<Policy>;
}

const states = new WeakMap<Policy, PolicyState>();

/** The state behind a policy made by `compilePolicy`; a `TypeError` for anything else. */
export function stateOf(policy: Policy): PolicyState {
  const state = states.get(policy);
  if (state === undefined) throw new TypeError('expected a Policy made by compilePolicy()');
  return state;
}

/** The one implementation of {@link Policy}. */
export class CompiledPolicy implements Policy {
  readonly #state: PolicyState;

  constructor(state: PolicyState) {
    this.#state = state;
    states.set(this, state);
    Object.freeze(this);
  }

  get version(): number {
    return this.#state.version;
  }
  get orders(): readonly Order[] {
    return this.#state.orders;
  }
  get hostCount(): number {
    return this.#state.hostCount;
  }
  get unknownCountry(): 'allow' | 'block' {
    return this.#state.unknownCountry;
  }
  get stats(): PolicyStats {
    const { index, deadRuleCount } = this.#state;
    return { baseNames: index.base.size, overlayNames: index.overlay.size, deadRules: deadRuleCount };
  }
  get needsCompaction(): boolean {
    return needsCompaction(this.#state);
  }
  get lastChange(): PolicyChange | undefined {
    const change = this.#state.history.change;
    return change === undefined ? undefined : changeDocument(this.#state, change);
  }

  decide(query: DecisionQuery): Decision {
    return decide(this.#state, query);
  }

  nextBoundaryAfter(ms: number): number | undefined {
    return nextBoundary(this.#state.boundaries, ms);
  }

  apply(change: PolicyChange, options: ApplyOptions = {}): Policy {
    const state = adoptCompactedBase(this.#state);
    const clock = { nowMs: Date.now(), replay: options.replay === true };
    const next = executeChange(state, validateChange(state, change, clock));
    const { lineage } = next;
    // Adopted once: from now on the lineage's current branch grows on the new base.
    if (state !== this.#state) lineage.compacted = undefined;
    if (lineage.compaction === 'background' && lineage.compacting === undefined && needsCompaction(next)) {
      // A failure only means the overlay stays; the next apply() tries again.
      compactStateInBackground(next).catch(() => undefined);
    }
    return new CompiledPolicy(next);
  }

  replay(changes: readonly PolicyChange[], options: ReplayOptions = {}): Policy {
    return this.replayed(runToEnd(replaySteps(this.#state, changes, options)));
  }

  async replayInBackground(
    changes: readonly PolicyChange[],
    options: ReplayOptions & { readonly sliceMs?: number } = {},
  ): Promise<Policy> {
    const steps = replaySteps(this.#state, changes, options);
    return this.replayed(await runInSlices(steps, options.sliceMs ?? 5));
  }

  private replayed(state: PolicyState): Policy {
    return state === this.#state ? this : new CompiledPolicy(state);
  }

  toDocument(): PolicyDocument {
    const state = this.#state;
    return documentOf({
      unknownCountry: state.unknownCountry,
      groups: state.groups,
      orders: state.orders.map((order) => order.core.order),
      notifications: state.notifications,
      lifts: state.lifts,
    });
  }

  compact(): Policy {
    return new CompiledPolicy(compactState(this.#state));
  }

  async compactInBackground(): Promise<Policy> {
    return new CompiledPolicy(await compactStateInBackground(this.#state));
  }
}
