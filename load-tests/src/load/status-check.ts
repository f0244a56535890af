/**
 * What a measured run must have answered. `only`: every response has one of these statuses. `shares`:
 * each status's share of all responses, within `tolerance` (absolute, e.g. 0.01 = one point).
 */
export type StatusExpectation =
  | { only: readonly number[] }
  | { shares: Readonly<Record<number, number>>; tolerance: number };

/**
 * Compares a run's responses by status with what was due; returns the problems (empty when right).
 * A 200 where a 451 was due is an error, not throughput: a candidate with problems gets no figures.
 * Understands wrk's coarse counts (`2xx-3xx` / `other`) for `only` expectations of one status class.
 */
export function checkStatuses(
  counts: Readonly<Record<string, number>>,
  expected: StatusExpectation,
): string[] {
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  if (total === 0) return ['no responses at all'];
  const coarse = '2xx-3xx' in counts || 'other' in counts;
  if (coarse) return checkCoarse(counts, expected, total);
  if ('only' in expected) {
    return Object.entries(counts)
      .filter(([status, count]) => count > 0 && !expected.only.includes(Number(status)))
      .map(
        ([status, count]) =>
          `${count} of ${total} responses were ${status}, expected only ${expected.only.join('/')}`,
      );
  }
  const problems: string[] = [];
  for (const [status, count] of Object.entries(counts)) {
    if (count > 0 && !(Number(status) in expected.shares)) {
      problems.push(`${count} of ${total} responses were ${status}, not an expected status`);
    }
  }
  for (const [status, share] of Object.entries(expected.shares)) {
    const actual = (counts[status] ?? 0) / total;
    if (Math.abs(actual - share) > expected.tolerance) {
      problems.push(`${percent(actual)} of responses were ${status}, expected ${percent(share)}`);
    }
  }
  return problems;
}

function checkCoarse(
  counts: Readonly<Record<string, number>>,
  expected: StatusExpectation,
  total: number,
): string[] {
  if (!('only' in expected)) return ['wrk cannot check status shares: run mixed loads with autocannon'];
  const success = expected.only.every((status) => status >= 200 && status < 400);
  const failure = expected.only.every((status) => status >= 400);
  if (!success && !failure) return ['wrk cannot check a mix of success and error statuses'];
  const wrongKey = success ? 'other' : '2xx-3xx';
  const wrong = counts[wrongKey] ?? 0;
  if (wrong === 0) return [];
  const what = success ? 'were 4xx/5xx' : 'were 2xx/3xx';
  return [`${wrong} of ${total} responses ${what}, expected only ${expected.only.join('/')}`];
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}
