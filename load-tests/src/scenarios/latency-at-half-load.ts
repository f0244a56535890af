import type { Candidate, CandidateId } from '../candidates/candidate.js';
import { runAutocannon } from '../load/autocannon-load.js';
import type { LoadResult } from '../load/load-result.js';
import { runPacedInChild } from '../load/paced-child.js';
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
  /** Half of the peak was above what the paced client sends on time: the rate is `pacedClientMaxRate`. */
  clientLimited: boolean;
  /** p99 of how late the candidate's requests left the client (median over rounds). */
  sendLagP99Ms: number;
  /** Where the peak came from ("wrk, cache-hit-1k", or a dedicated autocannon run). */
  peakSource: string;
  achievedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  baselineP50Ms: number;
  baselineP99Ms: number;
  /** Median over rounds of (candidate p99 − baseline p99), each pair measured back to back. */
  addedP99Ms: number;
  /** p99 through the bare TCP relay in the proxy's place (median over rounds); NaN where no hop was run. */
  hopP99Ms: number;
  /** Median over rounds of (relay p99 − baseline p99): what the hop alone adds in this topology. */
  hopAddedP99Ms: number;
  /** Median over rounds of (candidate p99 − relay p99): what the proxy adds beyond the hop itself. */
  beyondHopP99Ms: number;
  /** Wrong statuses or errors through the relay: its figures are void, the candidate's stand. */
  hopProblems: string[];
  /** Wrong statuses or socket errors: the rate was not sustained, so the target is missed. */
  problems: string[];
  /** Rounds left out because the client sent late to the baseline (p99 above `maxSendLagMs`). */
  lateRounds: string[];
};

/**
 * What each scenario's added latency is measured against: what the client would get without the proxy.
 * A hit's baseline is the bare server on the same core. A pass-through's is the very origin the proxy
 * forwards to, asked directly: it shares the load generator's core in both runs, so the difference is the
 * proxy's hop alone. The "origin direct" ceiling runs on the server's core, which the proxied origin never
 * gets; against it, a proxy was charged about 1 ms of p99 for where its origin runs.
 * The hop itself costs p99 here, whoever makes it: on two cores a proxied request crosses between them
 * four times and wakes the origin on the client's busy core. So a pass-through round also runs the bare
 * TCP relay in the proxy's place (tcp-relay.ts), and the rows say what each proxy adds beyond it.
 * The pass-through also paces the node:http + undici floor (undici-floor.ts): what Node, undici and V8's
 * collector cost in p99 on their own, beside what edge451 adds to them.
 */
const pairs: { scenario: string; baseline: CandidateId; hop?: true; compared: readonly CandidateId[] }[] = [
  { scenario: 'cache-hit-1k', baseline: 'bare', compared: ['edge-1', 'nginx'] },
  { scenario: 'pass-through', baseline: 'upstream', hop: true, compared: ['edge-1', 'floor', 'nginx'] },
];

/**
 * The highest rate the paced client (node:http, open loop, sharing CPU 0 with the origin) sends on time
 * here: at 5,000 req/s its send lag p99 was 2–3 ms against the bare server in a fast hour and 11–44 ms in
 * a slow one; at 6,000 12 ms; at 8,000 it fell behind by seconds (an open-loop client pays one event-loop
 * turn per response; wrk2 is not packaged for Debian). Above it the figure would be the client's latency.
 */
export const pacedClientMaxRate = 4000;
/**
 * A round whose baseline run left the client later than this (p99) measured the client: it gives no
 * figure. Only the baseline's lag judges the client: a candidate that stalls answers in bursts, which
 * makes the client late too, and that is the candidate's latency, not the client's.
 */
export const maxSendLagMs = 5;
/**
 * Seconds each run paces before measuring. On this VM every proxy (edge451, nginx, the naive proxy) that
 * had idled a minute or more fell behind for the first 1–2 s of a paced run at ~4,000 req/s (hundreds of
 * ms, then steady), while servers answering directly blipped for 0.1 s. Not the proxy's JIT or collector
 * (nginx too; edge451 under --no-memory-reducer too), nor its upstream connections (still open): our
 * reading is how the hypervisor schedules idle vCPUs, which a proxied request, crossing cores four times,
 * feels most (load-tests README). The target is about a load that is there, so runs warm up past it.
 */
export const pacedWarmupSeconds = 3;

/**
 * "Added p99 under 2 ms at half of peak load": edge451's peak (with one worker) comes from the throughput
 * scenario when it ran (wrk's figure when present, as autocannon saturates first), else from a short
 * autocannon run; then each of the pair's compared servers (edge451 and nginx; on a pass-through the
 * floor too), the baseline and, on a pass-through, the relay get the same constant rate, open loop, for
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
    const baseline = pair.baseline === 'upstream' ? world.upstream : world.candidates.get(pair.baseline);
    const hop = pair.hop === true ? world.relay : undefined;
    if (scenario === undefined || edge === undefined || baseline === undefined) continue;
    const shapes = scenario.shapes;
    const peak = await peakOf(ctx, edge, shapes, measured, pair.scenario);
    const half = Math.max(100, Math.round(peak.requestsPerSecond / 2));
    const ratePerSecond = Math.min(half, pacedClientMaxRate);
    const limit = ratePerSecond < half ? ` (half of peak is ${half}: the paced client's limit)` : '';
    ctx.log(
      `  latency ${pair.scenario}: edge451 peak ${Math.round(peak.requestsPerSecond)} req/s (${peak.source}), pacing at ${ratePerSecond} req/s${limit}`,
    );
    for (const id of pair.compared) {
      const candidate = world.candidates.get(id);
      if (candidate === undefined) continue;
      rows.push(
        await pacedPair(ctx, pair.scenario, { candidate, baseline, hop }, shapes, {
          ratePerSecond,
          clientLimited: ratePerSecond < half,
          peakSource: peak.source,
        }),
      );
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

/** The servers one latency row paces: the candidate, its baseline and, for a pass-through, the bare hop. */
type PacedServers = { candidate: Candidate; baseline: Candidate; hop: Candidate | undefined };

async function pacedPair(
  ctx: BenchContext,
  scenario: string,
  { candidate, baseline, hop }: PacedServers,
  shapes: readonly ExpectedShape[],
  pace: Pick<LatencyRow, 'ratePerSecond' | 'clientLimited' | 'peakSource'>,
): Promise<LatencyRow> {
  const { ratePerSecond, clientLimited, peakSource } = pace;
  const { options, world } = ctx;
  const expected = expectationFor(shapes);
  const plan = (target: Candidate) => () =>
    runPacedInChild(
      {
        baseUrl: target.url,
        shapes,
        ratePerSecond,
        durationSeconds: Math.max(2, options.durationSeconds),
        warmupSeconds: pacedWarmupSeconds,
        connections: options.connections,
      },
      world.pinning,
    );
  const problems = [...(await verifyShapes(candidate, shapes)), ...(await verifyShapes(baseline, shapes))];
  const hopProblems = hop === undefined ? [] : await verifyShapes(hop, shapes);
  const lateRounds: string[] = [];
  const counted: { own: LoadResult; base: LoadResult; hop?: LoadResult }[] = [];
  for (let round = 0; round < options.rounds && problems.length === 0; round++) {
    const mine = await measureRun(candidate, plan(candidate), expected);
    // The relay runs between the two, so drift over a round weighs on both of its differences alike.
    const relayed =
      hop === undefined || hopProblems.length > 0 ? undefined : await measureRun(hop, plan(hop), expected);
    const theirs = await measureRun(baseline, plan(baseline), expected);
    problems.push(...mine.problems, ...theirs.problems);
    hopProblems.push(...(relayed?.problems ?? []));
    const late = clientLate(baseline, theirs.load);
    const relayedText =
      relayed === undefined ? '' : `, ${relayed.load.p99Ms.toFixed(2)} ms through the relay`;
    ctx.log(
      `  latency ${scenario} round ${round + 1}: ${candidate.id} p99 ${mine.load.p99Ms.toFixed(2)} ms, ${baseline.id} p99 ${theirs.load.p99Ms.toFixed(2)} ms${relayedText}${late === undefined ? '' : ' (not counted: the client fell behind)'}`,
    );
    // A round the client could not pace measured the client: left out of the figures, and said so.
    if (late !== undefined) {
      lateRounds.push(`round ${round + 1}: ${late}`);
      continue;
    }
    const hopLoad = relayed !== undefined && relayed.problems.length === 0 ? relayed.load : undefined;
    counted.push({ own: mine.load, base: theirs.load, hop: hopLoad });
  }
  const hopP99 = (each: (typeof counted)[number]) => each.hop?.p99Ms ?? Number.NaN;
  return {
    scenario,
    candidate: candidate.id,
    baseline: baseline.id,
    ratePerSecond,
    clientLimited,
    sendLagP99Ms: median(counted.map(({ own }) => own.sendLagP99Ms ?? Number.NaN)),
    peakSource,
    achievedPerSecond: counted.at(-1)?.own.requestsPerSecond ?? Number.NaN,
    p50Ms: median(counted.map(({ own }) => own.p50Ms)),
    p99Ms: median(counted.map(({ own }) => own.p99Ms)),
    baselineP50Ms: median(counted.map(({ base }) => base.p50Ms)),
    baselineP99Ms: median(counted.map(({ base }) => base.p99Ms)),
    addedP99Ms: median(counted.map(({ own, base }) => own.p99Ms - base.p99Ms)),
    hopP99Ms: median(counted.map(hopP99)),
    hopAddedP99Ms: median(counted.map((each) => hopP99(each) - each.base.p99Ms)),
    beyondHopP99Ms: median(counted.map((each) => each.own.p99Ms - hopP99(each))),
    problems: [...new Set(problems)],
    hopProblems: [...new Set(hopProblems)],
    lateRounds,
  };
}

/** Why the client was late on `who`'s run, if its send lag p99 was above `maxSendLagMs`. */
function clientLate(who: Candidate, load: LoadResult): string | undefined {
  const lag = load.sendLagP99Ms ?? Number.NaN;
  return lag > maxSendLagMs ? `${who.id} send lag p99 ${lag.toFixed(1)} ms > ${maxSendLagMs} ms` : undefined;
}
