import { benchHost, blockedHost } from '../candidates/bench-world.js';
import type { Candidate } from '../candidates/candidate.js';
import { type ScaleCandidate, scaleBlockedHost, scaleSite, scaleWorldOf } from '../candidates/scale-world.js';
import { runAutocannon } from '../load/autocannon-load.js';
import { benchPaths } from '../origin/canned-responses.js';
import type { BenchContext } from './bench-context.js';
import { allowedPools, blockedPools, clientAddress } from './client-addresses.js';
import { type ExpectedShape, expectationFor, measureRun, verifyShapes, warmShapes } from './measure.js';
import { median, medianRatio } from './stats.js';

/** Startup and memory of one candidate loaded with the scale world. */
export type ScaleStartup = { name: string; readyMs: number; rssBytes: number; pssBytes: number };

/** Throughput at scale beside the same candidate with the small (1 site, 1,000 hosts) world. */
export type ScaleThroughputRow = {
  name: string;
  kind: 'hits' | 'blocked';
  requestsPerSecond: number;
  smallWorldRequestsPerSecond: number;
  /** Median per-round ratio scale ÷ small world. */
  ratio: number;
  p99Ms: number;
  cpuMicrosPerRequest: number;
  problems: string[];
};

export type ScaleResult = {
  sites: number;
  hosts: number;
  startup: ScaleStartup[];
  throughput: ScaleThroughputRow[];
  problems: string[];
};

const spread = 500;

/**
 * Loads 10,000 sites and 1,000,000 blocked hosts, reports start-up time (spawn to ready) and memory, then
 * measures hits over 500 different sites and 451s over 500 hosts spread over the million, beside the
 * same candidate of the small world on equivalent requests, in the same rounds.
 */
export async function runScale(ctx: BenchContext): Promise<ScaleResult> {
  const scale = await scaleWorldOf(ctx);
  const problems = scale.nginxProblem === undefined ? [] : [`nginx: ${scale.nginxProblem}`];
  const startup: ScaleStartup[] = [startupOf('edge451 workers: 1', scale.edge)];
  try {
    startup.push(startupOf('edge451 workers: auto', await scale.edgeAuto()));
  } catch (error) {
    problems.push(`edge451 workers: auto: ${(error as Error).message.split('\n')[0]}`);
  }
  if (scale.nginx !== undefined) startup.push(startupOf('nginx', scale.nginx));
  for (const entry of startup) {
    ctx.log(
      `  scale ${entry.name}: ready in ${Math.round(entry.readyMs)} ms, RSS ${Math.round(entry.rssBytes / 2 ** 20)} MiB`,
    );
  }
  const pairs: { name: string; big: Candidate; small: Candidate | undefined }[] = [
    { name: 'edge451 workers: 1', big: scale.edge.candidate, small: ctx.world.candidates.get('edge-1') },
  ];
  if (scale.nginx !== undefined)
    pairs.push({ name: 'nginx', big: scale.nginx.candidate, small: ctx.world.candidates.get('nginx') });
  const throughput: ScaleThroughputRow[] = [];
  for (const kind of ['hits', 'blocked'] as const) {
    const bigShapes = kind === 'hits' ? scaleHits(scale.sites) : scaleBlocked(scale.sites, scale.hosts);
    const smallShapes = kind === 'hits' ? smallHits() : smallBlocked();
    for (const pair of pairs) {
      if (pair.small === undefined) continue;
      throughput.push(
        await compareWorlds(ctx, pair.name, kind, pair.big, bigShapes, pair.small, smallShapes),
      );
    }
  }
  return { sites: scale.sites, hosts: scale.hosts, startup, throughput, problems };
}

function startupOf(name: string, started: ScaleCandidate): ScaleStartup {
  return { name, readyMs: started.readyMs, rssBytes: started.rssBytes, pssBytes: started.pssBytes };
}

async function compareWorlds(
  ctx: BenchContext,
  name: string,
  kind: 'hits' | 'blocked',
  big: Candidate,
  bigShapes: ExpectedShape[],
  small: Candidate,
  smallShapes: ExpectedShape[],
): Promise<ScaleThroughputRow> {
  const { options } = ctx;
  const load = (candidate: Candidate, shapes: ExpectedShape[], seconds: number) => () =>
    runAutocannon({
      baseUrl: candidate.url,
      shapes,
      connections: options.connections,
      durationSeconds: seconds,
    });
  const problems = [
    ...(await verifyShapes(big, bigShapes.slice(0, 20))),
    ...(await verifyShapes(small, smallShapes.slice(0, 20))),
  ];
  const bigRuns: number[] = [];
  const smallRuns: number[] = [];
  const p99s: number[] = [];
  const cpus: number[] = [];
  if (problems.length === 0) {
    await warmShapes(big, bigShapes);
    await warmShapes(small, smallShapes);
    await load(big, bigShapes, options.warmupSeconds)();
    await load(small, smallShapes, options.warmupSeconds)();
  }
  for (let round = 0; round < options.rounds && problems.length === 0; round++) {
    const bigRun = await measureRun(
      big,
      load(big, bigShapes, options.durationSeconds),
      expectationFor(bigShapes),
    );
    const smallRun = await measureRun(
      small,
      load(small, smallShapes, options.durationSeconds),
      expectationFor(smallShapes),
    );
    problems.push(...bigRun.problems, ...smallRun.problems);
    bigRuns.push(bigRun.load.requestsPerSecond);
    smallRuns.push(smallRun.load.requestsPerSecond);
    p99s.push(bigRun.load.p99Ms);
    cpus.push(bigRun.cpuMicrosPerRequest);
    ctx.log(
      `  scale ${name} ${kind} round ${round + 1}: ${Math.round(bigRun.load.requestsPerSecond)} req/s at scale, ${Math.round(smallRun.load.requestsPerSecond)} small`,
    );
  }
  return {
    name,
    kind,
    requestsPerSecond: median(bigRuns),
    smallWorldRequestsPerSecond: median(smallRuns),
    ratio: medianRatio(bigRuns, smallRuns),
    p99Ms: median(p99s),
    cpuMicrosPerRequest: median(cpus),
    problems: [...new Set(problems)],
  };
}

const client = (pools: readonly string[], n: number) => ({
  'X-Forwarded-For': clientAddress(pools[n % pools.length] ?? 'US', n),
});

function scaleHits(sites: number): ExpectedShape[] {
  return Array.from({ length: spread }, (_, n) => ({
    path: benchPaths.hit1k,
    host: scaleSite((n * 7919) % sites),
    headers: client(allowedPools, n),
    status: 200,
  }));
}

function scaleBlocked(sites: number, hosts: number): ExpectedShape[] {
  return Array.from({ length: spread }, (_, n) => ({
    path: benchPaths.blocked,
    host: scaleBlockedHost((n * 1_999_993) % hosts, sites),
    headers: client(blockedPools, n),
    status: 451,
  }));
}

function smallHits(): ExpectedShape[] {
  return Array.from({ length: spread }, (_, n) => ({
    path: `${benchPaths.hit1k}?site=${n}`,
    host: benchHost,
    headers: client(allowedPools, n),
    status: 200,
  }));
}

function smallBlocked(): ExpectedShape[] {
  return Array.from({ length: spread }, (_, n) => ({
    path: benchPaths.blocked,
    host: blockedHost(n % 1000),
    headers: client(blockedPools, n),
    status: 451,
  }));
}
