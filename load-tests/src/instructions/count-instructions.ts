/**
 * `pnpm --filter @edge451/load-tests bench:instructions`: the CPU cost of one request as a count of
 * instructions, edge451 next to the bare node:http server and the naive http-proxy (and, on the
 * pass-through, the floor: node:http + undici alone), each under valgrind's callgrind (callgrind.ts).
 * Counts do not move with the machine's load, so they show a change of a few percent that req/s and
 * CPU-time figures on this VM cannot; they leave out the kernel (socket writes), which is the same for
 * every candidate. Not a throughput figure: `pnpm bench` stays the reference.
 *
 * Each figure is what a window of 5N counted requests costs beyond a window of N (callgrind.ts,
 * `marginalPerRequest`): a window's fixed cost cancels out.
 *
 * Options: --only a,b (of cache-hit-1k, cache-hit-16k, blocked, pass-through, mix), --requests N (the
 * small window, default 2000), --warmup N (sent first, default 20,000: V8 optimises the hot path over
 * the first thousands of requests; after 5,000 a 451 still counted 1.3 % more than after 20,000), --keep
 * (keep the dump files for callgrind_annotate; node then runs with --perf-basic-prof, so
 * /tmp/perf-PID.map names the JIT frames), --candidates a,b (count only these, e.g. edge-1),
 * --node-args="…" (more node flags for every candidate, with the `=` since they start with a dash, e.g.
 * --node-args=--single-threaded: V8's compiler and collector then work on the counted thread instead of
 * helper threads; counts are higher, only comparable with counts made with the same flags, and still
 * move with the mark-compacts a window happens to hold), --cache-sim (also the L1 cache misses per
 * request, instruction and data, from callgrind's cache simulation: a request's CPU time follows them as
 * much as its instructions; slower still under valgrind), --branch-sim (also the branch mispredictions
 * per request, conditional and indirect, from callgrind's branch predictor model).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type BlockedAnswerFiles,
  startBareServer,
  startNaiveProxy,
  startUndiciFloor,
  writeBenchEdgeConfig,
  writeBenchPolicy,
  writeBlockedAnswer,
} from '../candidates/bench-world.js';
import type { CandidateId } from '../candidates/candidate.js';
import { type StartOptions, startEdge, startScript } from '../candidates/start-candidate.js';
import type { ExpectedShape } from '../scenarios/measure.js';
import { throughputScenarios } from '../scenarios/throughput-scenarios.js';
import type { Launched } from '../system/launch.js';
import { detectPinning, type Pinning, pinThisProcess } from '../system/pinning.js';
import { Callgrind, marginalPerRequest } from './callgrind.js';
import { sendRequests } from './send-requests.js';

/**
 * Per request: instructions, with `--cache-sim` the simulated L1 misses (instruction, data), and with
 * `--branch-sim` the simulated branch mispredictions (conditional, indirect).
 */
type Measured = {
  scenario: string;
  candidate: CandidateId;
  perRequest: number;
  l1Misses?: { instruction: number; data: number };
  mispredicted?: { conditional: number; indirect: number };
};

/** The scenarios counted, each with the candidates that answer it and the baseline of its ratio. */
const counted: { id: string; candidates: CandidateId[]; baseline: CandidateId }[] = [
  { id: 'cache-hit-1k', candidates: ['bare', 'edge-1'], baseline: 'bare' },
  { id: 'cache-hit-16k', candidates: ['bare', 'edge-1'], baseline: 'bare' },
  { id: 'blocked', candidates: ['bare', 'naive', 'edge-1'], baseline: 'bare' },
  // The floor: node:http and undici alone, what edge451's stack costs before edge451 adds anything.
  { id: 'pass-through', candidates: ['naive', 'floor', 'edge-1'], baseline: 'naive' },
  // Hits, misses and 451s from many addresses in one process, as an edge serves them.
  { id: 'mix', candidates: ['bare', 'edge-1'], baseline: 'bare' },
];

const startTimeoutMs = 300_000;

/** The second counting window holds this many times `--requests`; the figure is the difference (callgrind.ts). */
const LARGE_WINDOW_FACTOR = 5;

async function main(): Promise<number> {
  const { values } = parseArgs({
    // pnpm passes the `--` of `pnpm bench:instructions -- --keep` on.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      requests: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '20000' },
      keep: { type: 'boolean', default: false },
      only: { type: 'string' },
      candidates: { type: 'string' },
      'node-args': { type: 'string', default: '' },
      'cache-sim': { type: 'boolean', default: false },
      'branch-sim': { type: 'boolean', default: false },
    },
  });
  const requests = Number(values.requests);
  const warmup = Number(values.warmup);
  if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(warmup) || warmup < 0) {
    process.stderr.write('--requests must be a positive integer and --warmup a non-negative one\n');
    return 2;
  }
  const selected = values.only?.split(',');
  const onlyCandidates = values.candidates?.split(',');
  const unknown = selected?.filter((id) => !counted.some((scenario) => scenario.id === id));
  if (unknown !== undefined && unknown.length > 0) {
    process.stderr.write(
      `--only: no scenario ${unknown.join(', ')} (${counted.map(({ id }) => id).join(', ')})\n`,
    );
    return 2;
  }
  const dir = await mkdtemp(join(tmpdir(), 'edge451-instructions-'));
  const callgrind = Callgrind.find(dir, { cacheSim: values['cache-sim'], branchSim: values['branch-sim'] });
  if (callgrind === undefined) {
    await rm(dir, { recursive: true, force: true });
    process.stderr.write('bench:instructions needs valgrind (Debian: apt-get install valgrind)\n');
    return 1;
  }
  const pinning = detectPinning();
  pinThisProcess(pinning);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(
    `instructions per request (callgrind, event-loop thread), ${warmup} warm-up, then counted: ` +
      `${LARGE_WINDOW_FACTOR * requests} requests' count minus ${requests}'s, per extra request`,
  );
  const launched: Launched[] = [];
  const results: Measured[] = [];
  try {
    const world = await prepareWorld(dir, pinning, launched);
    const options = {
      wrapper: callgrind.wrapper(),
      // --perf-basic-prof also makes V8 write a log: into the temp folder, not the package's.
      extraNodeArgs: [
        ...values['node-args'].split(' ').filter((arg) => arg !== ''),
        ...(values.keep
          ? ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`]
          : []),
      ],
      timeoutMs: startTimeoutMs,
    };
    for (const { id, candidates, baseline } of counted) {
      if (selected !== undefined && !selected.includes(id)) continue;
      const shapes = scenarioShapes(id);
      for (const candidate of candidates) {
        if (onlyCandidates !== undefined && !onlyCandidates.includes(candidate)) continue;
        // A process of its own per scenario: what a process served before shapes its optimised code (a
        // 451 counted 40 % more in an edge that had served hits under counting first).
        const server = await startCounted(candidate, `${candidate}-${id}`, world, options);
        try {
          await sendRequests(server.url, shapes, warmup);
          const window = async (size: number) => {
            const counted = await callgrind.measure(server.launched.pid, () =>
              sendRequests(server.url, shapes, size),
            );
            return { requests: size, events: counted.events };
          };
          const small = await window(requests);
          const large = await window(LARGE_WINDOW_FACTOR * requests);
          const perRequest = (...names: string[]) => {
            const count = (counted: typeof small) =>
              names.reduce((sum, name) => sum + (counted.events[name] ?? 0), 0);
            return marginalPerRequest(
              { requests: small.requests, count: count(small) },
              { requests: large.requests, count: count(large) },
            );
          };
          results.push({
            scenario: id,
            candidate,
            perRequest: perRequest('Ir'),
            ...(values['cache-sim']
              ? { l1Misses: { instruction: perRequest('I1mr'), data: perRequest('D1mr', 'D1mw') } }
              : {}),
            ...(values['branch-sim']
              ? { mispredicted: { conditional: perRequest('Bcm'), indirect: perRequest('Bim') } }
              : {}),
          });
        } finally {
          await server.launched.stop();
        }
        log(describe(results, id, candidate, baseline));
      }
    }
    log("ratios: the baseline's count over the candidate's, as req/s ratios read (higher is cheaper).");
    if (values.keep) {
      log(
        `dumps kept in ${dir} (callgrind.PID.N-01: thread 1 of each process, N = 1 the small window, 2 the large)`,
      );
    }
    return 0;
  } finally {
    await Promise.all(launched.map((one) => one.stop()));
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}

function describe(results: readonly Measured[], id: string, candidate: CandidateId, baseline: CandidateId) {
  const row = results.find((one) => one.scenario === id && one.candidate === candidate) as Measured;
  const base = results.find((one) => one.scenario === id && one.candidate === baseline);
  const ratio =
    base === undefined ? '' : `  (${(base.perRequest / row.perRequest).toFixed(2)}× ${baseline}'s)`;
  const count = Math.round(row.perRequest).toLocaleString('en').padStart(9);
  const misses =
    row.l1Misses === undefined
      ? ''
      : `  L1 misses: ${perRequestFigure(row.l1Misses.instruction)} instruction, ${perRequestFigure(row.l1Misses.data)} data`;
  const mispredicted =
    row.mispredicted === undefined
      ? ''
      : `  mispredicted branches: ${perRequestFigure(row.mispredicted.conditional)} conditional, ${perRequestFigure(row.mispredicted.indirect)} indirect`;
  return `${id.padEnd(14)} ${candidate.padEnd(7)} ${count}${ratio}${misses}${mispredicted}`;
}

function perRequestFigure(value: number): string {
  return Math.round(value).toLocaleString('en');
}

/** The request shapes of a `pnpm bench` scenario, each with the status its answers must have. */
function scenarioShapes(id: string): readonly ExpectedShape[] {
  const scenario = Object.values(throughputScenarios)
    .flat()
    .find((candidate) => candidate?.id === id);
  if (scenario === undefined) throw new Error(`no benchmark scenario ${id}`);
  return scenario.shapes;
}

type World = {
  dir: string;
  pinning: Pinning;
  originUrl: string;
  policyFile: string;
  blockedHostsFile: string;
  blocked: BlockedAnswerFiles;
};

/**
 * The origin (native, kept for the whole run) and the files every candidate reads. A native edge451 is
 * started once for its 451 (page and header fields), which the baselines answer with, as in `pnpm bench`.
 */
async function prepareWorld(dir: string, pinning: Pinning, launched: Launched[]): Promise<World> {
  const origin = await startScript('origin', 'origin/origin-main.ts', [], pinning.generatorCpus, pinning);
  launched.push(origin.launched);
  const { policyFile, blockedHostsFile } = await writeBenchPolicy(dir);
  const edgeConfig = await writeBenchEdgeConfig(dir, 'edge-page', 1, origin.url, policyFile);
  const edge = await startEdge(
    'edge-page',
    edgeConfig.configFile,
    edgeConfig.adminUrl,
    pinning.serverCpus,
    pinning,
  );
  try {
    const { files } = await writeBlockedAnswer(dir, edgeConfig.url);
    return { dir, pinning, originUrl: origin.url, policyFile, blockedHostsFile, blocked: files };
  } finally {
    await edge.launched.stop();
  }
}

/** Starts one candidate under callgrind, as a fresh process; `name` keeps its config and state apart. */
async function startCounted(
  candidate: CandidateId,
  name: string,
  world: World,
  options: StartOptions,
): Promise<{ url: string; launched: Launched }> {
  const { dir, pinning } = world;
  if (candidate === 'bare') return startBareServer(world.blocked, pinning.serverCpus, pinning, options);
  if (candidate === 'naive') return startNaiveProxy(world, pinning.serverCpus, pinning, options);
  if (candidate === 'floor') return startUndiciFloor(world.originUrl, pinning.serverCpus, pinning, options);
  if (candidate !== 'edge-1') throw new Error(`bench:instructions does not count ${candidate}`);
  const config = await writeBenchEdgeConfig(dir, name, 1, world.originUrl, world.policyFile);
  const edge = await startEdge(
    name,
    config.configFile,
    config.adminUrl,
    pinning.serverCpus,
    pinning,
    options,
  );
  return { url: config.url, launched: edge.launched };
}

process.exitCode = await main();
