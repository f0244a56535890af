/**
 * `pnpm --filter @edge451/load-tests bench:instructions`: the CPU cost of one request as a count of
 * instructions, edge451 next to the bare node:http server and the naive http-proxy, each under valgrind's
 * callgrind (callgrind.ts). Counts do not move with the machine's load, so they show a change of a few
 * percent that req/s and CPU-time figures on this VM cannot; they leave out the kernel (socket writes),
 * which is the same for every candidate. Not a throughput figure: `pnpm bench` stays the reference.
 *
 * Options: --requests N (measured per scenario, default 2000), --warmup N (sent first, default 5000:
 * V8 optimises the hot path after some thousands of requests), --keep (keep the dump files, to read
 * with callgrind_annotate; node then runs with --perf-basic-prof, so /tmp/perf-PID.map names JIT frames).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { blockedShape, mmdbFile, writeBenchEdgeConfig, writeBenchPolicy } from '../candidates/bench-world.js';
import type { CandidateId } from '../candidates/candidate.js';
import { startEdge, startScript } from '../candidates/start-candidate.js';
import { blockedCountries } from '../scenarios/client-addresses.js';
import type { ExpectedShape } from '../scenarios/measure.js';
import { throughputScenarios } from '../scenarios/throughput-scenarios.js';
import { probe } from '../system/http-probe.js';
import type { Launched } from '../system/launch.js';
import { detectPinning, pinThisProcess } from '../system/pinning.js';
import { Callgrind } from './callgrind.js';
import { sendRequests } from './send-requests.js';

type Measured = { scenario: string; candidate: CandidateId; perRequest: number; dumpFile: string };

/** The scenarios counted, each with the candidates that answer it and the baseline of its ratio. */
const counted: { id: string; candidates: CandidateId[]; baseline: CandidateId }[] = [
  { id: 'cache-hit-1k', candidates: ['bare', 'edge-1'], baseline: 'bare' },
  { id: 'blocked', candidates: ['bare', 'naive', 'edge-1'], baseline: 'bare' },
  { id: 'pass-through', candidates: ['naive', 'edge-1'], baseline: 'naive' },
];

const startTimeoutMs = 300_000;

async function main(): Promise<number> {
  const { values } = parseArgs({
    // pnpm passes the `--` of `pnpm bench:instructions -- --keep` on.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      requests: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '5000' },
      keep: { type: 'boolean', default: false },
    },
  });
  const requests = Number(values.requests);
  const warmup = Number(values.warmup);
  if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(warmup) || warmup < 0) {
    process.stderr.write('--requests must be a positive integer and --warmup a non-negative one\n');
    return 2;
  }
  const dir = await mkdtemp(join(tmpdir(), 'edge451-instructions-'));
  const callgrind = Callgrind.find(dir);
  if (callgrind === undefined) {
    process.stderr.write('bench:instructions needs valgrind (Debian: apt-get install valgrind)\n');
    return 1;
  }
  const pinning = detectPinning();
  pinThisProcess(pinning);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`instructions per request (callgrind, event-loop thread), ${warmup} warm-up + ${requests} counted`);
  const launched: Launched[] = [];
  const results: Measured[] = [];
  try {
    const servers = await startServers(dir, callgrind, pinning, launched, values.keep);
    for (const { id, candidates, baseline } of counted) {
      const shape = scenarioShape(id);
      for (const candidate of candidates) {
        const server = servers.get(candidate) as { url: string; pid: number };
        await sendRequests(server.url, shape, shape.status, warmup);
        const { instructions, dumpFile } = await callgrind.measure(server.pid, () =>
          sendRequests(server.url, shape, shape.status, requests),
        );
        const perRequest = instructions / requests;
        results.push({ scenario: id, candidate, perRequest, dumpFile });
        const base = results.find((row) => row.scenario === id && row.candidate === baseline);
        const ratio =
          base === undefined ? '' : `  (${(base.perRequest / perRequest).toFixed(2)}× ${baseline}'s)`;
        log(
          `${id.padEnd(14)} ${candidate.padEnd(7)} ${Math.round(perRequest).toLocaleString('en').padStart(9)}${ratio}`,
        );
      }
    }
    log("ratios: the baseline's count over the candidate's, as req/s ratios read (higher is cheaper).");
    if (values.keep) log(`dumps kept in ${dir} (callgrind.PID.N-01: thread 1, the N-th scenario measured)`);
    return 0;
  } finally {
    await Promise.all(launched.map((one) => one.stop()));
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}

/** The one request shape of a `pnpm bench` scenario, with the status every answer must have. */
function scenarioShape(id: string): ExpectedShape {
  const scenario = Object.values(throughputScenarios)
    .flat()
    .find((candidate) => candidate?.id === id);
  const shape = scenario?.shapes[0];
  if (shape === undefined) throw new Error(`no benchmark scenario ${id}`);
  return shape;
}

/** The origin runs natively; edge451 (1 worker), the bare server and the naive proxy under callgrind. */
async function startServers(
  dir: string,
  callgrind: Callgrind,
  pinning: ReturnType<typeof detectPinning>,
  launched: Launched[],
  nameJitFrames: boolean,
): Promise<Map<CandidateId, { url: string; pid: number }>> {
  const servers = new Map<CandidateId, { url: string; pid: number }>();
  const options = {
    wrapper: callgrind.wrapper(),
    // --perf-basic-prof also makes V8 write a log: into the temp folder, not the package's.
    extraNodeArgs: nameJitFrames
      ? ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`]
      : [],
    timeoutMs: startTimeoutMs,
  };
  const origin = await startScript('origin', 'origin/origin-main.ts', [], pinning.generatorCpus, pinning);
  launched.push(origin.launched);
  const { policyFile, blockedHostsFile } = await writeBenchPolicy(dir);
  const edgeConfig = await writeBenchEdgeConfig(dir, 'edge-1', 1, origin.url, policyFile);
  const edge = await startEdge(
    'edge-1',
    edgeConfig.configFile,
    edgeConfig.adminUrl,
    pinning.serverCpus,
    pinning,
    options,
  );
  launched.push(edge.launched);
  servers.set('edge-1', { url: edgeConfig.url, pid: edge.launched.pid });
  // The baselines answer the 451 with edge451's own bytes, as in `pnpm bench`.
  const blockedBodyFile = join(dir, 'blocked-body.html');
  await writeFile(blockedBodyFile, (await probe(edgeConfig.url, blockedShape, { timeoutMs: 120_000 })).body);
  const bare = await startScript(
    'bare',
    'candidates/bare-server.ts',
    ['--blocked-body', blockedBodyFile],
    pinning.serverCpus,
    pinning,
    options,
  );
  launched.push(bare.launched);
  servers.set('bare', { url: bare.url, pid: bare.launched.pid });
  const naiveArgs = ['--origin', origin.url, '--mmdb', mmdbFile, '--blocked-hosts', blockedHostsFile];
  naiveArgs.push('--countries', blockedCountries.join(','), '--blocked-body', blockedBodyFile);
  const naive = await startScript(
    'naive',
    'candidates/naive-proxy.ts',
    naiveArgs,
    pinning.serverCpus,
    pinning,
    options,
  );
  launched.push(naive.launched);
  servers.set('naive', { url: naive.url, pid: naive.launched.pid });
  return servers;
}

process.exitCode = await main();
