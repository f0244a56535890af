import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runAutocannon } from '../load/autocannon-load.js';
import { type CpuProfile, type ProfileSummary, summarizeCpuProfile } from '../report/cpu-profile-summary.js';
import type { BenchContext } from './bench-context.js';
import { warmShapes } from './measure.js';
import type { ThroughputScenario } from './throughput.js';

export type ProfileResult = {
  scenario: string;
  seconds: number;
  requestsPerSecond: number;
  summary?: ProfileSummary;
  problem?: string;
};

/**
 * Runs a scenario's load against a separate edge451 (one worker, same config) started with
 * `node --cpu-prof`, stops it so that V8 writes the profile, and summarises where the busy time went.
 * Profiling slows the process, so its req/s is not comparable to the tables.
 */
export async function profileEdge(ctx: BenchContext, scenario: ThroughputScenario): Promise<ProfileResult> {
  const dir = join(ctx.world.dir, `profile-${scenario.id}`);
  await mkdir(dir, { recursive: true });
  const seconds = Math.max(5, ctx.options.durationSeconds * 2);
  try {
    const spawned = performance.now();
    const edge = await ctx.world.startExtraEdge(`profiled-${scenario.id}`, [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
    ]);
    let requestsPerSecond = Number.NaN;
    let measuredFromMs = 0;
    try {
      await warmShapes(edge, scenario.shapes);
      const plan = { baseUrl: edge.url, shapes: scenario.shapes, connections: ctx.options.connections };
      await runAutocannon({ ...plan, durationSeconds: ctx.options.warmupSeconds });
      // The profile starts with the process: what came before the measured load is left out.
      measuredFromMs = performance.now() - spawned;
      requestsPerSecond = (await runAutocannon({ ...plan, durationSeconds: seconds })).requestsPerSecond;
    } finally {
      await edge.launched.stop();
    }
    const files = (await readdir(dir)).filter((file) => file.endsWith('.cpuprofile'));
    const file = files.sort().at(-1);
    if (file === undefined)
      return { scenario: scenario.id, seconds, requestsPerSecond, problem: 'no .cpuprofile written' };
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    return {
      scenario: scenario.id,
      seconds,
      requestsPerSecond,
      summary: summarizeCpuProfile(profile, { skipFirstMs: measuredFromMs }),
    };
  } catch (error) {
    return {
      scenario: scenario.id,
      seconds,
      requestsPerSecond: Number.NaN,
      problem: (error as Error).message.split('\n')[0] ?? '',
    };
  }
}
