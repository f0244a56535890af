/** The median of the finite values, or NaN when there are none. */
export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1
    ? (finite[middle] ?? Number.NaN)
    : ((finite[middle - 1] ?? Number.NaN) + (finite[middle] ?? Number.NaN)) / 2;
}

/**
 * The median of per-round ratios a[i] / b[i]. Rounds run candidates back to back, so each round's ratio
 * compares figures taken within seconds of each other; the machine drifts more than that between rounds.
 */
export function medianRatio(numerators: readonly number[], denominators: readonly number[]): number {
  const ratios: number[] = [];
  for (let index = 0; index < Math.min(numerators.length, denominators.length); index++) {
    const a = numerators[index];
    const b = denominators[index];
    if (a !== undefined && b !== undefined && b > 0) ratios.push(a / b);
  }
  return median(ratios);
}
