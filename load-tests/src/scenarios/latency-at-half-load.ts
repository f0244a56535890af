import type { Candidate, CandidateId } from '../candidates/candidate.js';
import { runAutocannon } from '../load/autocannon-load.js';
import { runPaced } from '../load/paced-load.js';
import type { BenchContext } from './bench-context.js';
import { type ExpectedShape, expectationFor, measureRun, verifyShapes } from './measure.js';
import { median } from './stats.js';
import type { ThroughputRow } from './throughput.js';
import { throughputScenarios } from './throughput-scenarios.js';

/** Latency of one candidate at a fixed rate (open loop), beside the baseline at the same rate. */
export type LatencyRow = {
  scenario: string;
  candidate: CandidateId;
  baseline: CandidateId;
  ratePerSecond: number;
  /** Where the peak came from ("wrk, cache-hit-1k", or a dedicated autocannon run). */
  peakSource: string;
  achievedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  baselineP50Ms: number;
  baselineP99Ms: number;
  /** Median over rounds of (candidate p99 − baseline p99), each pair measured back to back. */
  addedP99Ms: number;
  problems: string[];
};

const pairs: { scenario: string; baseline: CandidateId }[] = [
  { scenario: 'cache-hit-1k', baseline: 'bare' },
  { scenario: 'pass-through', baseline: 'origin' },
];
const compared: readonly CandidateId[] = ['edge-1', 'nginx'];

/**
 * "Added p99 under 2 ms at half of peak load": edge451's peak (with one worker) comes from the throughput
 * scenario when it ran (wrk's figure when present, as autocannon saturates first), else from a short
 * autocannon run; then edge451, nginx and the baseline each get the same constant rate, open loop, for
 * `durationSeconds`, rounds back to back.
 */
export async function runLatencyAtHalfLoad(
  ctx: BenchContext,
  measured: readonly ThroughputRow[],
): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  const { world } = ctx;
  for (const pair of pairs) {
    const scenario = Object.values(throughputScenarios)
      .flat()
      .find((entry) => entry.id === pair.scenario);
    const edge = world.candidates.get('edge-1');
    const baseline = world.candidates.get(pair.baseline);
    if (scenario === undefined || edge === undefined || baseline === undefined) continue;
    const shapes = scenario.shapes;
    const peak = await peakOf(ctx, edge, shapes, measured, pair.scenario);
    const ratePerSecond = Math.max(100, Math.round(peak.requestsPerSecond / 2));
    ctx.log(
      `  latency ${pair.scenario}: edge451 peak ${Math.round(peak.requestsPerSecond)} req/s (${peak.source}), pacing at ${ratePerSecond} req/s`,
    );
    for (const id of compared) {
      const candidate = world.candidates.get(id);
      if (candidate === undefined) continue;
      rows.push(await pacedPair(ctx, pair.scenario, candidate, baseline, shapes, ratePerSecond, peak.source));
    }
  }
  return rows;
}

async function peakOf(
  ctx: BenchContext,
  edge: Candidate,
  shapes: readonly ExpectedShape[],
  measured: readonly ThroughputRow[],
  scenario: string,
): Promise<{ requestsPerSecond: number; source: string }> {
  const rows = measured.filter(
    (row) =>
      row.scenario === scenario && row.candidate === 'edge-1' && Number.isFinite(row.requestsPerSecond),
  );
  const best = rows.find((row) => row.tool === 'wrk') ?? rows[0];
  if (best !== undefined)
    return { requestsPerSecond: best.requestsPerSecond, source: `${best.tool}, ${scenario} scenario` };
  const run = await runAutocannon({
    baseUrl: edge.url,
    shapes,
    connections: ctx.options.connections,
    durationSeconds: ctx.options.durationSeconds,
  });
  return { requestsPerSecond: run.requestsPerSecond, source: 'autocannon, dedicated run' };
}

async function pacedPair(
  ctx: BenchContext,
  scenario: string,
  candidate: Candidate,
  baseline: Candidate,
  shapes: readonly ExpectedShape[],
  ratePerSecond: number,
  peakSource: string,
): Promise<LatencyRow> {
  const { options } = ctx;
  const expected = expectationFor(shapes);
  const plan = (target: Candidate) => () =>
    runPaced({
      baseUrl: target.url,
      shapes,
      ratePerSecond,
      durationSeconds: Math.max(2, options.durationSeconds),
      connections: options.connections,
    });
  const problems = [...(await verifyShapes(candidate, shapes)), ...(await verifyShapes(baseline, shapes))];
  const own: number[][] = [];
  const base: number[][] = [];
  let achieved = Number.NaN;
  for (let round = 0; round < options.rounds && problems.length === 0; round++) {
    const mine = await measureRun(candidate, plan(candidate), expected);
    const theirs = await measureRun(baseline, plan(baseline), expected);
    problems.push(...mine.problems, ...theirs.problems);
    own.push([mine.load.p50Ms, mine.load.p99Ms]);
    base.push([theirs.load.p50Ms, theirs.load.p99Ms]);
    achieved = mine.load.requestsPerSecond;
    ctx.log(
      `  latency ${scenario} round ${round + 1}: ${candidate.id} p99 ${mine.load.p99Ms.toFixed(2)} ms, ${baseline.id} p99 ${theirs.load.p99Ms.toFixed(2)} ms`,
    );
  }
  return {
    scenario,
    candidate: candidate.id,
    baseline: baseline.id,
    ratePerSecond,
    peakSource,
    achievedPerSecond: achieved,
    p50Ms: median(own.map(([p50 = Number.NaN]) => p50)),
    p99Ms: median(own.map(([, p99 = Number.NaN]) => p99)),
    baselineP50Ms: median(base.map(([p50 = Number.NaN]) => p50)),
    baselineP99Ms: median(base.map(([, p99 = Number.NaN]) => p99)),
    addedP99Ms: median(own.map(([, p99 = Number.NaN], index) => p99 - (base[index]?.[1] ?? Number.NaN))),
    problems: [...new Set(problems)],
  };
}
