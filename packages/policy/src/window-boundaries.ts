/** An order's window in epoch ms: `fromMs` inclusive (-Infinity: since ever), `untilMs` exclusive (+Infinity). */
export type Window = { readonly fromMs: number; readonly untilMs: number };

/**
 * Whether `at` falls in the window (DECISIONS #3). decide() makes the same comparison inline in matches.ts,
 * on the hot path; the property tests hold the two to the same answers.
 */
export function inWindow(window: Window, at: number): boolean {
  return window.fromMs <= at && at < window.untilMs;
}

/**
 * The instants at which some order's window opens or closes, ascending and distinct. Nothing else in a
 * snapshot depends on the clock (a notification or lift takes effect when applied, whatever its date), so
 * between two boundaries every decision stays the same, and a block can start without a change only at
 * one. Made with the snapshot (compile, and the changes that add, replace or delete an order), never per
 * request: O(orders log orders).
 */
export function windowBoundaries(windows: readonly Window[]): readonly number[] {
  const instants = new Set<number>();
  for (const { fromMs, untilMs } of windows) {
    if (Number.isFinite(fromMs)) instants.add(fromMs);
    if (Number.isFinite(untilMs)) instants.add(untilMs);
  }
  return Object.freeze([...instants].sort((a, b) => a - b));
}

/** The first boundary strictly after `ms` (binary search), or undefined when none is (or `ms` is NaN). */
export function nextBoundary(boundaries: readonly number[], ms: number): number | undefined {
  let low = 0;
  let high = boundaries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((boundaries[middle] as number) > ms) high = middle;
    else low = middle + 1;
  }
  return boundaries[low];
}
