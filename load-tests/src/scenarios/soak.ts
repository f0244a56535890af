import { runAutocannon } from '../load/autocannon-load.js';
import { sampleProcessTree } from '../system/process-tree.js';
import type { BenchContext } from './bench-context.js';
import { expectationFor, measureRun, verifyShapes, warmShapes } from './measure.js';
import { median } from './stats.js';
import { mixShapes } from './throughput-scenarios.js';

export type SoakResult = {
  seconds: number;
  /** Load before the first RSS sample, so that the heap has reached its working size. */
  warmupSeconds: number;
  requestsPerSecond: number;
  p99Ms: number;
  /** RSS (MiB) once a second, from the end of the warm-up. */
  rssSamplesMiB: number[];
  startMiB: number;
  endMiB: number;
  maxMiB: number;
  /** (median of the last tenth − median of the first tenth) ÷ the first; the target is under 5 %. */
  growth: number;
  problems: string[];
};

/**
 * The mixed load on edge451 (one worker) for `--soak` seconds after a warm-up (10 s, or a tenth of the
 * soak when longer; 2 s with --quick), sampling its RSS every
 * second. Growth compares the medians of the first and last tenths, so one garbage-collection peak does
 * not decide it. Misses carry no freshness and are not stored, so the cache does not legitimately grow.
 */
export async function runSoak(ctx: BenchContext): Promise<SoakResult | undefined> {
  const edge = ctx.world.candidates.get('edge-1');
  if (edge === undefined) return undefined;
  const shapes = mixShapes();
  const seconds = ctx.options.soakSeconds;
  const problems = await verifyShapes(edge, shapes.slice(0, 40));
  const samples: number[] = [];
  let requestsPerSecond = Number.NaN;
  let p99Ms = Number.NaN;
  const warmupSeconds = ctx.options.quick ? 2 : Math.max(10, Math.round(seconds / 10));
  if (problems.length === 0) {
    await warmShapes(edge, shapes);
    // Steady state first: the heap grows to its working size during the first seconds of any load.
    await runAutocannon({
      baseUrl: edge.url,
      shapes,
      connections: ctx.options.connections,
      durationSeconds: warmupSeconds,
    });
    const sampler = setInterval(() => {
      const usage = sampleProcessTree(edge.pid);
      if (usage !== undefined) samples.push(usage.rssBytes / 2 ** 20);
    }, 1000);
    ctx.log(`  soak: ${seconds} s of the mixed load on edge451 workers: 1`);
    try {
      const run = await measureRun(
        edge,
        () =>
          runAutocannon({
            baseUrl: edge.url,
            shapes,
            connections: ctx.options.connections,
            durationSeconds: seconds,
          }),
        expectationFor(shapes),
      );
      problems.push(...run.problems);
      requestsPerSecond = run.load.requestsPerSecond;
      p99Ms = run.load.p99Ms;
    } finally {
      clearInterval(sampler);
    }
  }
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const startMiB = median(samples.slice(0, tenth));
  const endMiB = median(samples.slice(-tenth));
  return {
    seconds,
    warmupSeconds,
    requestsPerSecond,
    p99Ms,
    rssSamplesMiB: samples,
    startMiB,
    endMiB,
    maxMiB: samples.length > 0 ? Math.max(...samples) : Number.NaN,
    growth: (endMiB - startMiB) / startMiB,
    problems,
  };
}
