import type { CountryGroups } from './country-groups.js';
import type { HostIndex } from './host-index.js';
import type { HostRule } from './host-pattern.js';
import type { EffectiveOrder } from './order.js';
import type { ValidatedLift, ValidatedNotification } from './validate-document.js';
import type { ValidatedOrder } from './validate-order.js';

/** A change after validation against the snapshot it applies to; replaying it cannot fail. */
export type ValidChange =
  | { readonly type: 'put-order'; readonly order: ValidatedOrder }
  | { readonly type: 'delete-order'; readonly orderId: string }
  | { readonly type: 'notify'; readonly notification: ValidatedNotification }
  | { readonly type: 'lift-host'; readonly lift: ValidatedLift };

/**
 * The changes applied since a snapshot's base was built, newest first (replayed onto a compacted base).
 * Each base has its own root cell (`change` undefined), so cell identity tells which base a chain grew on.
 */
export type HistoryCell = {
  readonly change: ValidChange | undefined;
  readonly previous: HistoryCell | undefined;
};

/**
 * The rules each change added, newest first, for `diffBlockedHosts`. One cell per change (possibly with no
 * rules), `id` unique per change, so finding a snapshot's head cell in another's log proves ancestry.
 * `rules` undefined means every rule of the order (a put-order). A truncated log ends in a `truncated` cell.
 */
export type AdditionCell = {
  readonly id: number;
  readonly orderId: string | undefined;
  readonly rules: readonly HostRule[] | undefined;
  readonly previous: AdditionCell | undefined;
  readonly depth: number;
  readonly truncated: boolean;
};

/** A compacted base some snapshot of the lineage may adopt (see compaction.ts). */
export type CompactedBase = { readonly fromHistory: HistoryCell; readonly state: PolicyState };

/** What all snapshots descending from one `compilePolicy()` share. */
export type Lineage = {
  compacted: CompactedBase | undefined;
  /** The background compaction running for this lineage, if any (one at a time). */
  compacting: Promise<PolicyState> | undefined;
  readonly compaction: 'background' | 'manual';
};

/** Everything a snapshot is; never mutated once built. */
export type PolicyState = {
  readonly lineage: Lineage;
  readonly version: number;
  readonly unknownCountry: 'allow' | 'block';
  readonly groups: CountryGroups;
  /** Live orders in document order. */
  readonly orders: readonly EffectiveOrder[];
  /** Live orders by core key; replaced and deleted keys are `undefined`, so their rules are skipped. */
  readonly slots: readonly (EffectiveOrder | undefined)[];
  readonly nextKey: number;
  readonly notifications: readonly ValidatedNotification[];
  /** Every lift, in force or superseded by a later notification (history). */
  readonly lifts: readonly ValidatedLift[];
  readonly index: HostIndex;
  /** When some order's window opens or closes, ascending (window-boundaries.ts). */
  readonly boundaries: readonly number[];
  readonly hostCount: number;
  /** Rules of replaced or deleted orders still in the base: garbage for compaction to drop. */
  readonly deadRuleCount: number;
  readonly history: HistoryCell;
  readonly additions: AdditionCell | undefined;
};

/** Orders get this many base names of overlay, at least, before compaction is worth it. */
const MIN_OVERLAY_FOR_COMPACTION = 4096;

/**
 * Whether a snapshot's overlay or garbage has grown enough to rebuild its base: an overlay above
 * 1/16 of the base (copying it makes every `apply()` slower) or dead rules above 1/4 (wasted memory).
 */
export function needsCompaction(state: PolicyState): boolean {
  const baseSize = state.index.base.size;
  return (
    state.index.overlay.size > Math.max(MIN_OVERLAY_FOR_COMPACTION, baseSize >> 4) ||
    state.deadRuleCount > Math.max(MIN_OVERLAY_FOR_COMPACTION, baseSize >> 2)
  );
}
