import { describe, expect, it } from 'vitest';
import type { CandidateId } from '../candidates/candidate.js';
import type { LatencyRow } from '../scenarios/latency-at-half-load.js';
import type { ThroughputRow, ThroughputScenario } from '../scenarios/throughput.js';
import { latencyRow } from './latency-row.fixture.js';
import { evaluateTargets } from './targets.js';

const row = (
  scenario: string,
  tool: ThroughputRow['tool'],
  candidate: CandidateId,
  requestsPerSecond: number,
  ratios: ThroughputRow['ratios'] = {},
): ThroughputRow => ({
  scenario,
  tool,
  candidate,
  runs: [],
  requestsPerSecond,
  bytesPerSecond: 0,
  p50Ms: 1,
  p99Ms: 2,
  errors: 0,
  rssBytes: 0,
  cpuMicrosPerRequest: 50,
  serverCpuCores: 1,
  ratios,
  problems: [],
});

const entry = (id: string, rows: ThroughputRow[]) => ({ scenario: { id } as ThroughputScenario, rows });

describe('evaluateTargets', () => {
  it("judges cache hits on wrk's ratio when wrk ran, since autocannon saturates first", () => {
    const [cacheHits] = evaluateTargets({
      throughput: [
        entry('cache-hit-1k', [
          row('cache-hit-1k', 'autocannon', 'edge-1', 30_000, { bare: 0.99 }),
          row('cache-hit-1k', 'wrk', 'edge-1', 40_000, { bare: 0.7 }),
        ]),
        entry('cache-hit-16k', [row('cache-hit-16k', 'wrk', 'edge-1', 30_000, { bare: 0.85 })]),
      ],
    });
    expect(cacheHits).toMatchObject({ status: 'missed', profileScenario: 'cache-hit-1k' });
    expect(cacheHits?.measured).toContain('cache-hit-1k: 0.70× (wrk');
  });

  it('meets a ratio target only when every scenario of it does', () => {
    const targets = evaluateTargets({
      throughput: [
        entry('blocked', [row('blocked', 'wrk', 'edge-1', 50_000, { bare: 0.93 })]),
        entry('pass-through', [row('pass-through', 'autocannon', 'edge-1', 9_000, { naive: 1.4 })]),
      ],
    });
    expect(targets.find((target) => target.target.startsWith('451s'))?.status).toBe('met');
    expect(targets.find((target) => target.target.startsWith('pass-through'))?.status).toBe('missed');
  });

  it("says beside the pass-through how far node:http + undici alone went, and edge451's share of it", () => {
    const passThrough = (rows: ThroughputRow[]) =>
      evaluateTargets({ throughput: [entry('pass-through', rows)] }).find((target) =>
        target.target.startsWith('pass-through'),
      )?.measured;
    const edge = row('pass-through', 'wrk', 'edge-1', 17_000, { naive: 1.2, floor: 0.65 });
    const floor = row('pass-through', 'wrk', 'floor', 26_000, { naive: 1.85 });
    expect(passThrough([edge, floor])).toBe(
      'pass-through: 1.20× (wrk; CPU –); node:http + undici alone: 1.85× naive, edge451 0.65× that floor',
    );
    // Without the floor, or with it measured by another tool than edge451's ratio, nothing is claimed.
    expect(passThrough([edge])).toBe('pass-through: 1.20× (wrk; CPU –)');
    const autocannonFloor = row('pass-through', 'autocannon', 'floor', 26_000, { naive: 1.85 });
    expect(passThrough([edge, autocannonFloor])).toBe('pass-through: 1.20× (wrk; CPU –)');
  });

  it('says "not measured" for scenarios that did not run or failed, never "met"', () => {
    const targets = evaluateTargets({
      throughput: [entry('blocked', [row('blocked', 'wrk', 'edge-1', Number.NaN, { bare: Number.NaN })])],
    });
    expect(targets.map((target) => target.status)).toEqual(Array(targets.length).fill('not measured'));
  });

  it('misses the soak target at 5 % growth and more', () => {
    const soak = (growth: number) =>
      evaluateTargets({
        throughput: [],
        soak: {
          seconds: 300,
          warmupSeconds: 30,
          requestsPerSecond: 1,
          p99Ms: 1,
          rssSamplesMiB: [],
          startMiB: 100,
          endMiB: 100 * (1 + growth),
          maxMiB: 110,
          growth,
          problems: [],
        },
      }).find((target) => target.target.startsWith('RSS'))?.status;
    expect(soak(0.049)).toBe('met');
    expect(soak(0.05)).toBe('missed');
  });

  describe('added p99 at half of peak load', () => {
    const judge = (rows: LatencyRow[]) =>
      evaluateTargets({ throughput: [], latency: rows }).find((target) =>
        target.target.startsWith('added p99'),
      );

    it('judges the rounds the client paced on time, and says when the rate was the client cap', () => {
      const target = judge([
        latencyRow({ clientLimited: true, lateRounds: ['round 2: bare send lag p99 12.0 ms > 5 ms'] }),
      ]);
      expect(target?.status).toBe('met');
      expect(target?.measured).toContain('at 4000 req/s (client cap, below half of peak)');
    });

    it('is not measured when every round was left out, and missed when the server failed requests', () => {
      expect(judge([latencyRow({ addedP99Ms: Number.NaN, lateRounds: ['round 1: …'] })])?.status).toBe(
        'not measured',
      );
      expect(judge([latencyRow({ problems: ['3 socket errors or timeouts'] })])?.status).toBe('missed');
      expect(judge([latencyRow({ addedP99Ms: 2.5 })])?.status).toBe('missed');
    });

    it('says what the bare hop adds and what edge451 adds beyond it, and still judges against the origin', () => {
      const passThrough = latencyRow({
        scenario: 'pass-through',
        baseline: 'upstream',
        addedP99Ms: 3.4,
        hopP99Ms: 8.5,
        hopAddedP99Ms: 2.9,
        beyondHopP99Ms: 0.5,
      });
      const target = judge([latencyRow({}), passThrough]);
      expect(target?.measured).toBe(
        'cache-hit-1k: +1.00 ms at 4000 req/s, pass-through: +3.40 ms at 4000 req/s; the bare TCP hop alone adds +2.90 ms, edge451 beyond it +0.50 ms',
      );
      expect(target?.status).toBe('missed');
    });
  });
});
