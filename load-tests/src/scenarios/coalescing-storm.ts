import { Agent } from 'node:http';
import { benchHost } from '../candidates/bench-world.js';
import type { Candidate, CandidateId } from '../candidates/candidate.js';
import { LatencyRecorder } from '../load/latency-recorder.js';
import { benchPaths, stormDelayMs } from '../origin/canned-responses.js';
import { probe } from '../system/http-probe.js';
import type { BenchContext } from './bench-context.js';
import { clientAddress } from './client-addresses.js';
import { median } from './stats.js';

/** One candidate under storms: many concurrent requests for one cacheable URL nobody has fetched yet. */
export type StormRow = {
  candidate: CandidateId;
  concurrentRequests: number;
  storms: number;
  /** Median over storms of the requests that reached the origin for the storm's URL. */
  originRequests: number;
  /** 1 − originRequests / concurrentRequests. */
  savedShare: number;
  p50Ms: number;
  p99Ms: number;
  problems: string[];
};

const stormCandidates: readonly CandidateId[] = ['edge-1', 'edge-auto', 'naive', 'nginx'];

/**
 * Issue 5's figure: `concurrentRequests` clients ask for the same fresh cacheable URL at once while the
 * origin takes `stormDelayMs` to answer; the origin counts how many requests reached it. Every response
 * must be a 200. A cache that coalesces sends one (one per worker with `workers: auto`, whose workers
 * have their own memory caches); a plain proxy sends all of them.
 */
export async function runCoalescingStorms(ctx: BenchContext): Promise<StormRow[]> {
  const concurrentRequests = ctx.options.quick ? 100 : 200;
  const storms = ctx.options.quick ? 2 : 5;
  const rows: StormRow[] = [];
  for (const id of stormCandidates) {
    const candidate = ctx.world.candidates.get(id);
    if (candidate === undefined) continue;
    const originCounts: number[] = [];
    const latencies = new LatencyRecorder();
    const problems: string[] = [];
    for (let storm = 0; storm < storms; storm++) {
      const path = `${benchPaths.stormPrefix}${id}-${storm}-${Date.now()}`;
      const statuses = await fireStorm(candidate, path, concurrentRequests, latencies);
      const wrong = statuses.filter((status) => status !== 200).length;
      if (wrong > 0)
        problems.push(
          `${wrong} of ${concurrentRequests} storm responses were not 200 (${[...new Set(statuses)].join(', ')})`,
        );
      originCounts.push(await originCount(ctx.world.upstream.url, path));
    }
    const originRequests = median(originCounts);
    const [p50Ms = Number.NaN, p99Ms = Number.NaN] = latencies.percentiles(50, 99);
    const row = {
      candidate: id,
      concurrentRequests,
      storms,
      originRequests,
      savedShare: 1 - originRequests / concurrentRequests,
      p50Ms,
      p99Ms,
      problems,
    };
    ctx.log(
      `  storm ${id}: ${originCounts.join(', ')} origin requests for ${concurrentRequests} concurrent (origin answers in ${stormDelayMs} ms)`,
    );
    rows.push(row);
  }
  return rows;
}

async function fireStorm(
  candidate: Candidate,
  path: string,
  concurrent: number,
  latencies: LatencyRecorder,
): Promise<number[]> {
  const agent = new Agent({ keepAlive: false, maxSockets: concurrent });
  try {
    return await Promise.all(
      Array.from({ length: concurrent }, async (_, n) => {
        const started = performance.now();
        const shape = { path, host: benchHost, headers: { 'X-Forwarded-For': clientAddress('US', n) } };
        try {
          const response = await probe(candidate.url, shape, { agent, timeoutMs: 15_000 });
          latencies.record(performance.now() - started);
          return response.status;
        } catch {
          return 0;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
}

async function originCount(originUrl: string, prefix: string): Promise<number> {
  const response = await probe(originUrl, {
    path: `/__origin/count?prefix=${encodeURIComponent(prefix)}`,
    host: 'origin',
  });
  return (JSON.parse(response.body.toString('utf8')) as { count: number }).count;
}
