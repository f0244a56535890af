import { type BaseSource, type BuiltBase, buildBase, runInSlices, runToEnd } from './base-builder.js';
import { executeChange, privateCopy } from './execute-change.js';
import { HostIndex } from './host-index.js';
import type { HistoryCell, PolicyState, ValidChange } from './policy-state.js';

// Compaction folds a snapshot's overlay (and the garbage of replaced or deleted orders) into a new base.
// It never changes what a snapshot decides, only how fast `apply()` is and how much memory is held.
//
// In the background, the new base is built in slices of a few milliseconds between event-loop turns
// (requests keep being served) from the snapshot S that triggered it; meanwhile S keeps changing into
// S+1, S+2... When it is done, the result is published on the lineage, and the next `apply()` on a
// descendant of S adopts it: it replays the changes made since S (their history is kept, already
// validated) onto the new base, in one private overlay, then applies its own change.

function sourcesOf(state: PolicyState): BaseSource[] {
  return state.orders.map((order) => ({
    core: order.core,
    ruleLists: [order.core.order.rules, ...order.notifications.map((notification) => notification.rules)],
    lifted: order.lifted,
  }));
}

function withBase(state: PolicyState, built: BuiltBase): PolicyState {
  return {
    ...state,
    index: new HostIndex(built.base),
    deadRuleCount: 0,
    history: { change: undefined, previous: undefined },
  };
}

/**
 * The steps of building a snapshot deciding exactly as `state`, with an empty overlay and no garbage:
 * O(hosts), yielding every few thousand rules (base-builder.ts).
 */
export function* compactSteps(state: PolicyState): Generator<void, PolicyState> {
  return withBase(state, yield* buildBase(sourcesOf(state)));
}

/** A snapshot deciding exactly as `state`, with an empty overlay and no garbage. O(hosts), synchronous. */
export function compactState(state: PolicyState): PolicyState {
  return runToEnd(compactSteps(state));
}

/**
 * Builds the compacted form of `state` in slices of `sliceMs` between event-loop turns, publishes it for
 * adoption by later `apply()` calls of the lineage, and resolves with it.
 */
export function compactStateInBackground(state: PolicyState, sliceMs = 5): Promise<PolicyState> {
  const lineage = state.lineage;
  const compacting = runInSlices(compactSteps(state), sliceMs).then((compacted) => {
    lineage.compacted = { fromHistory: state.history, state: compacted };
    return compacted;
  });
  lineage.compacting = compacting;
  const done = () => {
    if (lineage.compacting === compacting) lineage.compacting = undefined;
  };
  compacting.then(done, done);
  return compacting;
}

/**
 * `state` rebuilt on the lineage's compacted base when that base was built from an ancestor of `state`
 * (or from `state` itself); otherwise `state` unchanged. Same version, same decisions. The caller clears
 * `lineage.compacted` once a snapshot built on the result is published (a failed change adopts nothing).
 */
export function adoptCompactedBase(state: PolicyState): PolicyState {
  const compacted = state.lineage.compacted;
  if (compacted === undefined) return state;
  const pending: ValidChange[] = [];
  for (
    let cell: HistoryCell | undefined = state.history;
    cell !== compacted.fromHistory;
    cell = cell.previous
  ) {
    if (cell === undefined) return state; // not a descendant: another branch, or an older base
    if (cell.change !== undefined) pending.push(cell.change);
  }
  if (pending.length === 0) return { ...compacted.state, additions: state.additions };
  // A private copy: the intermediate snapshots of the replay are never visible.
  let replayed = privateCopy(compacted.state);
  for (let index = pending.length - 1; index >= 0; index--) {
    replayed = executeChange(replayed, pending[index] as ValidChange, true);
  }
  return { ...replayed, additions: state.additions };
}
