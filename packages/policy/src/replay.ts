import { compactSteps } from './compaction.js';
import { executeChange, privateCopy } from './execute-change.js';
import { needsCompaction, type PolicyState, type ValidChange } from './policy-state.js';
import { type PolicyChange, validateChange } from './validate-change.js';

/** A change `replay` skipped because it did not apply to the policy replayed so far. */
export type SkippedChange = {
  readonly change: PolicyChange;
  /** What `apply()` would have thrown (a `PolicyValidationError`). */
  readonly error: unknown;
  /** Its position in the changes given. */
  readonly index: number;
};

/** Options of `Policy.replay()` and `Policy.replayInBackground()`. */
export type ReplayOptions = {
  /** Hears of each skipped change when it is skipped; what it throws ends the replay with that error. */
  readonly onSkipped?: (skipped: SkippedChange) => void;
};

/** Changes replayed between two yields: a few milliseconds of validation and writes. */
const CHANGES_PER_STEP = 64;

/**
 * The steps of replaying `changes` over `start` exactly as `apply(change, { replay: true })` one after the
 * other would: each change is validated against the state the previous ones made, one that does not apply
 * is skipped (`onSkipped`), and the version grows by one per change applied. The changes are written into
 * one private copy of `start` (its overlay, orders and lists grown in place, `executeChange(…, true)`), so
 * N changes cost O(N + their hosts) instead of the O(N²) of N `apply()` calls, each of which copies the
 * overlay and notifications the previous ones grew; no intermediate state is ever seen by anyone. When the
 * overlay or garbage grew enough that `apply()` would start a background compaction, the result is
 * compacted here (one base build), so it does not hand a large overlay to the next `apply()`. Yields every few dozen
 * changes and every few thousand rules of that build. `start` is untouched; `start` itself is the result
 * when no change applied.
 */
export function* replaySteps(
  start: PolicyState,
  changes: readonly PolicyChange[],
  options: ReplayOptions = {},
): Generator<void, PolicyState> {
  let state: PolicyState | undefined;
  for (let index = 0; index < changes.length; index++) {
    const change = changes[index] as PolicyChange;
    const current = state ?? start;
    let valid: ValidChange | undefined;
    try {
      valid = validateChange(current, change, { nowMs: Date.now(), replay: true });
    } catch (error) {
      options.onSkipped?.({ change, error, index });
    }
    if (valid !== undefined) state = executeChange(state ?? privateCopy(start), valid, true);
    if ((index + 1) % CHANGES_PER_STEP === 0) yield;
  }
  if (state === undefined) return start;
  const compacts = state.lineage.compaction === 'background' && needsCompaction(state);
  return compacts ? yield* compactSteps(state) : state;
}
