import { candidateLabels } from '../candidates/candidate.js';
import type { StormRow } from '../scenarios/coalescing-storm.js';
import type { LatencyRow } from '../scenarios/latency-at-half-load.js';
import type { PolicyChangeRow } from '../scenarios/policy-change.js';
import type { ScaleResult } from '../scenarios/scale.js';
import type { SoakResult } from '../scenarios/soak.js';
import type { ProfileSummary } from './cpu-profile-summary.js';
import {
  formatMiB,
  formatMicros,
  formatMs,
  formatRate,
  formatRatio,
  formatSeconds,
  formatSignedMs,
} from './format.js';

/** Header and cells of one table, rendered by the console printer and the markdown writer alike. */
export type Table = { header: string[]; cells: string[][] };

export function latencyTable(rows: readonly LatencyRow[]): Table {
  return {
    header: [
      'scenario',
      'candidate',
      'rate req/s',
      'p50 ms',
      'p99 ms',
      'baseline',
      'baseline p99 ms',
      'added p99 ms',
      'TCP relay p99 ms',
      'added beyond the relay ms',
      'client send lag p99 ms',
    ],
    cells: rows.map((row) => [
      row.scenario,
      candidateLabels[row.candidate],
      `${formatRate(row.ratePerSecond)}${row.clientLimited ? ' (client cap)' : ''}`,
      formatMs(row.p50Ms),
      formatMs(row.p99Ms),
      candidateLabels[row.baseline],
      formatMs(row.baselineP99Ms),
      formatSignedMs(row.addedP99Ms),
      Number.isFinite(row.hopP99Ms) ? formatMs(row.hopP99Ms) : '–',
      formatSignedMs(row.beyondHopP99Ms),
      formatMs(row.sendLagP99Ms),
    ]),
  };
}

/**
 * What went wrong per latency row, for the lists under the table: server problems, the relay's (which void
 * only the relay's columns), then rounds left out.
 */
export function latencyProblems(rows: readonly LatencyRow[]): { who: string; problems: string[] }[] {
  return rows.map((row) => ({
    who: `${row.candidate} ${row.scenario}`,
    problems: [
      ...row.problems,
      ...row.hopProblems.map((problem) => `through the TCP relay: ${problem}`),
      ...row.lateRounds.map((late) => `left out, ${late}`),
    ],
  }));
}

export function stormTable(rows: readonly StormRow[]): Table {
  return {
    header: ['candidate', 'concurrent', 'storms', 'origin requests (median)', 'saved', 'p50 ms', 'p99 ms'],
    cells: rows.map((row) => [
      candidateLabels[row.candidate],
      String(row.concurrentRequests),
      String(row.storms),
      Number.isFinite(row.originRequests) ? String(row.originRequests) : '–',
      Number.isFinite(row.savedShare) ? `${(row.savedShare * 100).toFixed(1)} %` : '–',
      formatMs(row.p50Ms),
      formatMs(row.p99Ms),
    ]),
  };
}

export function scaleTables(result: ScaleResult): { startup: Table; throughput: Table } {
  return {
    startup: {
      header: ['candidate', 'start-up (spawn → ready)', 'RSS MiB', 'PSS MiB'],
      cells: result.startup.map((row) => [
        row.name,
        formatSeconds(row.readyMs),
        formatMiB(row.rssBytes),
        formatMiB(row.pssBytes),
      ]),
    },
    throughput: {
      header: [
        'candidate',
        'requests',
        'req/s at scale',
        'req/s small world',
        '× small',
        'p99 ms',
        'CPU µs/req',
      ],
      cells: result.throughput.map((row) => [
        row.name,
        row.kind === 'hits' ? 'hits, 500 sites' : '451s, 500 of the hosts',
        formatRate(row.requestsPerSecond),
        formatRate(row.smallWorldRequestsPerSecond),
        formatRatio(row.ratio),
        formatMs(row.p99Ms),
        formatMicros(row.cpuMicrosPerRequest),
      ]),
    },
  };
}

export function policyChangeTable(rows: readonly PolicyChangeRow[]): Table {
  return {
    header: [
      'candidate',
      'change',
      'samples',
      'first 451 (median)',
      'first 451 (max)',
      '10 × 451 in a row',
      'admin answer',
    ],
    cells: rows.map((row) => [
      row.name,
      row.how,
      String(row.samples),
      formatSeconds(row.firstBlockMs),
      formatSeconds(row.maxFirstBlockMs),
      formatSeconds(row.allWorkersMs),
      Number.isFinite(row.answerMs) ? formatSeconds(row.answerMs) : '–',
    ]),
  };
}

export function soakTable(result: SoakResult): Table {
  return {
    header: [
      'seconds',
      'warm-up s',
      'req/s',
      'p99 ms',
      'RSS start MiB',
      'RSS end MiB',
      'RSS max MiB',
      'growth',
    ],
    cells: [
      [
        String(result.seconds),
        String(result.warmupSeconds),
        formatRate(result.requestsPerSecond),
        formatMs(result.p99Ms),
        result.startMiB.toFixed(1),
        result.endMiB.toFixed(1),
        result.maxMiB.toFixed(1),
        Number.isFinite(result.growth) ? `${(result.growth * 100).toFixed(1)} %` : '–',
      ],
    ],
  };
}

export function profileTables(summary: ProfileSummary): { owners: Table; top: Table } {
  return {
    owners: {
      header: ['code owner', 'share of busy CPU'],
      cells: summary.byOwner
        .slice(0, 12)
        .map((entry) => [entry.owner, `${(entry.share * 100).toFixed(1)} %`]),
    },
    top: {
      header: ['function (self time)', 'where', 'share', 'under (nearest non-Node caller)'],
      cells: summary.top.map((entry) => [
        entry.name,
        entry.where,
        `${(entry.share * 100).toFixed(1)} %`,
        entry.via,
      ]),
    },
  };
}
