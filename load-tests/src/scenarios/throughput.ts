import { type Candidate, type CandidateId, candidateOrder } from '../candidates/candidate.js';
import { runAutocannon } from '../load/autocannon-load.js';
import type { LoadResult } from '../load/load-result.js';
import { runWrk } from '../load/wrk-load.js';
import type { BenchContext } from './bench-context.js';
import {
  type ExpectedShape,
  expectationFor,
  type MeasuredRun,
  measureRun,
  verifyShapes,
  warmShapes,
} from './measure.js';
import { median, medianRatio } from './stats.js';

/** A closed-loop throughput scenario: every candidate gets the same requests, as fast as it answers. */
export type ThroughputScenario = {
  id: string;
  title: string;
  /** One sentence for the report: what is requested and why. */
  what: string;
  /** Sent in turn by every connection; wrk only sends the first. */
  shapes: readonly ExpectedShape[];
  candidates: readonly CandidateId[];
  /** Ratios are given to these, measured in the same rounds. */
  baselines: readonly CandidateId[];
  /** wrk too, when installed: for fast paths, where autocannon saturates its own core first. */
  wrk: boolean;
  /** Check that caching candidates answer from cache before measuring. */
  cacheHit?: boolean;
};

/** One table row: a candidate's figures for one scenario and one load tool (medians over rounds). */
export type ThroughputRow = {
  scenario: string;
  tool: LoadResult['tool'];
  candidate: CandidateId;
  runs: MeasuredRun[];
  requestsPerSecond: number;
  bytesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors and timeouts over every run; wrong statuses void a run and are listed in `problems`. */
  errors: number;
  rssBytes: number;
  cpuMicrosPerRequest: number;
  serverCpuCores: number;
  /** Median of per-round req/s ratios to each baseline. */
  ratios: Partial<Record<CandidateId, number>>;
  problems: string[];
};

/**
 * Runs a scenario with each tool: per candidate a status check and a warm-up (which also fills caches),
 * then `rounds` rounds in which every candidate is measured back to back (order rotated each round), each
 * run preceded by one verifying request and followed by a check of every response's status.
 */
export async function runThroughput(
  scenario: ThroughputScenario,
  ctx: BenchContext,
): Promise<ThroughputRow[]> {
  const { world, options } = ctx;
  const present = candidateOrder
    .filter((id) => scenario.candidates.includes(id))
    .map((id) => world.candidates.get(id))
    .filter((candidate): candidate is Candidate => candidate !== undefined);
  const tools: LoadResult['tool'][] = ['autocannon'];
  if (scenario.wrk && world.tools.wrk !== undefined && scenario.shapes.length === 1) tools.push('wrk');
  const expected = expectationFor(scenario.shapes);
  const rows: ThroughputRow[] = [];
  for (const tool of tools) {
    const load = (candidate: Candidate, seconds: number) =>
      tool === 'wrk' && world.tools.wrk !== undefined
        ? runWrk(
            {
              wrkPath: world.tools.wrk.path,
              baseUrl: candidate.url,
              shape: scenario.shapes[0] ?? { path: '/', host: 'localhost' },
              connections: options.connections,
              durationSeconds: Math.max(1, Math.round(seconds)),
            },
            world.pinning,
          )
        : runAutocannon({
            baseUrl: candidate.url,
            shapes: scenario.shapes,
            connections: options.connections,
            durationSeconds: seconds,
          });
    const ready: Candidate[] = [];
    const failed = new Map<CandidateId, string[]>();
    for (const candidate of present) {
      const problems = await verifyShapes(candidate, scenario.shapes.slice(0, 40));
      if (problems.length === 0) {
        await warmShapes(candidate, scenario.shapes);
        await load(candidate, options.warmupSeconds);
        const cacheProblems = scenario.cacheHit
          ? await verifyShapes(candidate, scenario.shapes.slice(0, 1), { cacheHit: true })
          : [];
        if (cacheProblems.length === 0) ready.push(candidate);
        else failed.set(candidate.id, cacheProblems);
      } else {
        failed.set(candidate.id, problems);
      }
    }
    const runs = new Map<CandidateId, MeasuredRun[]>(ready.map((candidate) => [candidate.id, []]));
    for (let round = 0; round < options.rounds; round++) {
      const order = ready.map((_, index) => ready[(index + round) % ready.length] as Candidate);
      for (const candidate of order) {
        const preflight = await verifyShapes(candidate, scenario.shapes.slice(0, 1));
        const run =
          preflight.length > 0
            ? emptyRun(preflight)
            : await measureRun(candidate, () => load(candidate, options.durationSeconds), expected);
        runs.get(candidate.id)?.push(run);
        ctx.log(`  ${scenario.id} ${tool} round ${round + 1} ${candidate.id}: ${describeRun(run)}`);
      }
    }
    for (const candidate of present) {
      rows.push(
        summarize(
          scenario,
          tool,
          candidate.id,
          runs.get(candidate.id) ?? [],
          failed.get(candidate.id) ?? [],
          runs,
        ),
      );
    }
  }
  return rows;
}

function summarize(
  scenario: ThroughputScenario,
  tool: LoadResult['tool'],
  candidate: CandidateId,
  runs: MeasuredRun[],
  setupProblems: string[],
  all: Map<CandidateId, MeasuredRun[]>,
): ThroughputRow {
  const good = runs.filter((run) => run.problems.length === 0);
  const problems = [...setupProblems, ...runs.flatMap((run) => run.problems)];
  const rps = (list: MeasuredRun[]) =>
    list.map((run) => (run.problems.length === 0 ? run.load.requestsPerSecond : Number.NaN));
  const ratios: Partial<Record<CandidateId, number>> = {};
  for (const baseline of scenario.baselines) {
    const baselineRuns = all.get(baseline);
    if (baselineRuns !== undefined && baseline !== candidate)
      ratios[baseline] = medianRatio(rps(runs), rps(baselineRuns));
  }
  return {
    scenario: scenario.id,
    tool,
    candidate,
    runs,
    requestsPerSecond: median(good.map((run) => run.load.requestsPerSecond)),
    bytesPerSecond: median(good.map((run) => run.load.bytesPerSecond)),
    p50Ms: median(good.map((run) => run.load.p50Ms)),
    p99Ms: median(good.map((run) => run.load.p99Ms)),
    errors: runs.reduce((sum, run) => sum + run.load.socketErrors, 0),
    rssBytes: good.at(-1)?.rssBytes ?? Number.NaN,
    cpuMicrosPerRequest: median(good.map((run) => run.cpuMicrosPerRequest)),
    serverCpuCores: median(good.map((run) => run.serverCpuCores)),
    ratios,
    problems: [...new Set(problems)],
  };
}

function emptyRun(problems: string[]): MeasuredRun {
  const load: LoadResult = {
    tool: 'autocannon',
    requests: 0,
    durationSeconds: 0,
    requestsPerSecond: Number.NaN,
    bytesPerSecond: Number.NaN,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    socketErrors: 0,
    statusCounts: {},
  };
  return {
    load,
    cpuMicrosPerRequest: Number.NaN,
    serverCpuCores: Number.NaN,
    rssBytes: Number.NaN,
    problems,
  };
}

function describeRun(run: MeasuredRun): string {
  if (run.problems.length > 0) return `PROBLEM ${run.problems.join('; ')}`;
  const { load } = run;
  return `${Math.round(load.requestsPerSecond)} req/s, p99 ${load.p99Ms.toFixed(2)} ms, ${run.cpuMicrosPerRequest.toFixed(1)} µs CPU/req`;
}
