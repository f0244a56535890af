import { type CandidateId, candidateLabels } from '../candidates/candidate.js';
import type { ThroughputRow } from '../scenarios/throughput.js';
import { formatMiB, formatMicros, formatMs, formatRate, formatRatio } from './format.js';

/** The columns of a scenario's table, for the console and the markdown report alike. */
export function throughputTable(rows: readonly ThroughputRow[], baselines: readonly CandidateId[]) {
  const header = [
    'candidate',
    'tool',
    'req/s',
    ...baselines.map((baseline) => `× ${baseline}`),
    'MiB/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'RSS MiB',
    'CPU µs/req',
    'server CPU',
  ];
  const cells = rows.map((row) => [
    candidateLabels[row.candidate],
    row.tool,
    row.problems.length > 0 && !Number.isFinite(row.requestsPerSecond)
      ? 'FAILED'
      : formatRate(row.requestsPerSecond),
    ...baselines.map((baseline) =>
      baseline === row.candidate ? '1.00×' : formatRatio(row.ratios[baseline]),
    ),
    formatMiB(row.bytesPerSecond),
    formatMs(row.p50Ms),
    formatMs(row.p99Ms),
    String(row.errors),
    formatMiB(row.rssBytes),
    formatMicros(row.cpuMicrosPerRequest),
    Number.isFinite(row.serverCpuCores) ? `${Math.round(row.serverCpuCores * 100)} %` : '–',
  ]);
  return { header, cells };
}
