import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type BenchWorld,
  startUndiciFloor,
  writeBenchEdgeConfig,
  writeBenchPolicy,
} from '../candidates/bench-world.js';
import { scriptCandidate } from '../candidates/candidate.js';
import { startEdge, startScript } from '../candidates/start-candidate.js';
import { parseBenchOptions } from '../options.js';
import type { Launched } from '../system/launch.js';
import { detectPinning } from '../system/pinning.js';
import { runLatencyAtHalfLoad } from './latency-at-half-load.js';
import type { ThroughputRow } from './throughput.js';

/** edge451's pass-through peak as if the throughput scenario had measured it: the paced rate is half. */
const measuredPeak = (requestsPerSecond: number): ThroughputRow => ({
  scenario: 'pass-through',
  tool: 'wrk',
  candidate: 'edge-1',
  runs: [],
  requestsPerSecond,
  bytesPerSecond: 0,
  p50Ms: 0,
  p99Ms: 0,
  errors: 0,
  rssBytes: 0,
  cpuMicrosPerRequest: 0,
  serverCpuCores: 0,
  ratios: {},
  problems: [],
});

describe('latency at half of peak load', () => {
  const launched: Launched[] = [];
  const pinning = { ...detectPinning(), available: false };
  let dir: string;
  let world: BenchWorld;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge451-latency-test-'));
    const start = async (name: string) => {
      const started = await startScript(name, 'origin/origin-main.ts', [], '0', pinning);
      launched.push(started.launched);
      return started;
    };
    const upstream = await start('upstream');
    // The "origin direct" ceiling too: the pass-through must not be measured against it.
    const direct = await start('origin-direct');
    const { policyFile } = await writeBenchPolicy(dir);
    const config = await writeBenchEdgeConfig(dir, 'edge', 1, upstream.url, policyFile);
    const edge = await startEdge('edge', config.configFile, config.adminUrl, '0', pinning);
    launched.push(edge.launched);
    const floor = await startUndiciFloor(upstream.url, '0', pinning);
    launched.push(floor.launched);
    world = {
      dir,
      pinning,
      tools: { skipped: [] },
      upstream: scriptCandidate('upstream', upstream, false),
      candidates: new Map([
        ['edge-1', scriptCandidate('edge-1', { url: config.url, launched: edge.launched }, true)],
        ['origin', scriptCandidate('origin', direct, false)],
        ['floor', scriptCandidate('floor', floor, false)],
      ]),
      skipped: [],
      startExtraEdge: () => Promise.reject(new Error('not in this test')),
      close: async () => {},
    };
  }, 120_000);

  afterAll(async () => {
    await Promise.all(launched.map((each) => each.stop()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('paces edge451, and the undici floor, against the very origin they forward to', async () => {
    const options = parseBenchOptions(['--only', 'latency', '--rounds', '1', '--duration', '2']);
    const rows = await runLatencyAtHalfLoad({ world, options, log: () => {} }, [measuredPeak(400)]);

    // No bare server in this world: the hit pair is skipped; the pass-through paces edge451 and the floor.
    expect(rows.map((row) => row.candidate)).toEqual(['edge-1', 'floor']);
    for (const row of rows) {
      expect(row).toMatchObject({
        scenario: 'pass-through',
        baseline: 'upstream',
        ratePerSecond: 200,
        problems: [],
      });
      // A round in which this machine could not pace 200 req/s is left out and says so; otherwise it counts.
      if (row.lateRounds.length === 0) {
        expect(row.achievedPerSecond).toBeGreaterThan(150);
        expect(Number.isFinite(row.baselineP99Ms)).toBe(true);
        expect(Number.isFinite(row.addedP99Ms)).toBe(true);
      } else {
        expect(row.lateRounds).toEqual([expect.stringContaining('upstream send lag')]);
      }
    }
  }, 90_000);
});
