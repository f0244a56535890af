import type { LoadResult } from './load-result.js';

/**
 * What wrk 4 prints at the end of a run, in numbers: a LoadResult's figures (p50/p99 from `--latency`'s
 * distribution, NaN without it; socket errors = connect + read + write + timeout, 0 when wrk leaves the
 * line out) and the "Non-2xx or 3xx responses" count (0 when absent).
 */
export type WrkSummary = Pick<
  LoadResult,
  'requests' | 'durationSeconds' | 'requestsPerSecond' | 'bytesPerSecond' | 'p50Ms' | 'p99Ms' | 'socketErrors'
> & { non2xx3xx: number };

// wrk's units (src/units.c): times in us/ms/s/m/h, sizes in binary multiples (1 KB = 1024 B).
const timeUnitsMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const sizeUnits: Record<string, number> = { B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 };

/**
 * Parses wrk's report. Throws `BENCH_WRK_OUTPUT_INVALID` when the summary lines are missing (wrk failed
 * to connect, or its format changed) rather than returning a zero that would read as a slow server.
 */
export function parseWrkOutput(text: string): WrkSummary {
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),\s*([\d.]+)([KMGT]?B) read/m.exec(text);
  const rate = /^Requests\/sec:\s*([\d.]+)/m.exec(text);
  const transfer = /^Transfer\/sec:\s*([\d.]+)([KMGT]?B)/m.exec(text);
  if (total === null || rate === null || transfer === null) {
    throw Object.assign(new Error(`wrk printed no summary:\n${text.slice(0, 2000)}`), {
      code: 'BENCH_WRK_OUTPUT_INVALID',
    });
  }
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    durationSeconds: toMs(total[2], total[3]) / 1000,
    requestsPerSecond: Number(rate[1]),
    bytesPerSecond: toBytes(transfer[1], transfer[2]),
    p50Ms: percentileMs(text, '50'),
    p99Ms: percentileMs(text, '99'),
    non2xx3xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors:
      socket === null ? 0 : socket.slice(1, 5).reduce((sum, count) => sum + Number(count ?? 0), 0),
  };
}

function percentileMs(text: string, percentile: string): number {
  const line = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
  return line === null ? Number.NaN : toMs(line[1], line[2]);
}

function toMs(value: string | undefined, unit: string | undefined): number {
  return Number(value) * (timeUnitsMs[unit ?? ''] ?? Number.NaN);
}

function toBytes(value: string | undefined, unit: string | undefined): number {
  return Number(value) * (sizeUnits[unit ?? ''] ?? Number.NaN);
}
