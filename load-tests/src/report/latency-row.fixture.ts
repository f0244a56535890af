import type { LatencyRow } from '../scenarios/latency-at-half-load.js';

/** A latency row for the report's tests: edge451's hit, +1 ms over the bare server, no hop. */
export function latencyRow(overrides: Partial<LatencyRow> = {}): LatencyRow {
  return {
    scenario: 'cache-hit-1k',
    candidate: 'edge-1',
    baseline: 'bare',
    ratePerSecond: 4000,
    clientLimited: false,
    sendLagP99Ms: 2,
    peakSource: 'wrk',
    achievedPerSecond: 4000,
    p50Ms: 1,
    p99Ms: 4,
    baselineP50Ms: 1,
    baselineP99Ms: 3,
    addedP99Ms: 1,
    hopP99Ms: Number.NaN,
    hopAddedP99Ms: Number.NaN,
    beyondHopP99Ms: Number.NaN,
    problems: [],
    hopProblems: [],
    lateRounds: [],
    ...overrides,
  };
}
