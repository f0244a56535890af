import fc from 'fast-check';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedHistogram } from './tallied-histogram.js';

const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const config = { name: 'test_duration_seconds', help: 'test', labelNames: ['outcome'] as const, buckets };

/** A TalliedHistogram and prom-client's Histogram, each on its own registry, fed the same observations. */
function pair() {
  const tallied = new Registry();
  const reference = new Registry();
  const histogram = new TalliedHistogram({ ...config, registers: [tallied] });
  const real = new Histogram({ ...config, registers: [reference] });
  let labelObjects = 0;
  const observe = (outcome: string, seconds: number) => {
    histogram.observe(
      outcome,
      () => {
        labelObjects++;
        return { outcome };
      },
      seconds,
    );
    real.observe({ outcome }, seconds);
  };
  return { tallied, reference, observe, labelObjects: () => labelObjects };
}

describe('TalliedHistogram', () => {
  it("exposes what prom-client's Histogram exposes for the same observations, bounds included", async () => {
    const { tallied, reference, observe, labelObjects } = pair();
    for (const seconds of [0, 0.0005, 0.0004, 0.001, 0.003, 10, 11, 0.25]) observe('hit', seconds);
    observe('blocked', 0.0002);
    observe('hit', 0.07);
    expect(await tallied.metrics()).toBe(await reference.metrics());
    expect(labelObjects()).toBe(2);
    // A scrape reads; it does not reset or double anything.
    observe('blocked', 2);
    expect(await tallied.metrics()).toBe(await reference.metrics());
  });

  it('agrees with prom-client on random observations, in the cluster aggregation too', async () => {
    const observation = fc.tuple(
      fc.constantFrom('hit', 'miss', 'blocked'),
      fc.oneof(fc.constantFrom(...buckets), fc.double({ min: 0, max: 20, noNaN: true })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 40 }), async (observations) => {
        const { tallied, reference, observe } = pair();
        for (const [outcome, seconds] of observations) observe(outcome, seconds);
        expect(await tallied.metrics()).toBe(await reference.metrics());
        const talliedJson = await tallied.getMetricsAsJSON();
        const referenceJson = await reference.getMetricsAsJSON();
        const aggregated = AggregatorRegistry.aggregate([talliedJson, talliedJson]);
        const aggregatedReference = AggregatorRegistry.aggregate([referenceJson, referenceJson]);
        expect(await aggregated.metrics()).toBe(await aggregatedReference.metrics());
      }),
      { numRuns: 200 },
    );
  });

  it('is emptied by a registry reset, as prom-client metrics are', async () => {
    const { tallied, observe } = pair();
    observe('hit', 0.01);
    tallied.resetMetrics();
    expect(await tallied.metrics()).not.toContain('test_duration_seconds_count');
  });

  it('refuses buckets it could not expose', () => {
    const registers = [new Registry()];
    expect(() => new TalliedHistogram({ ...config, buckets: [0.1, 0.1], registers })).toThrow(/distinct/);
    expect(() => new TalliedHistogram({ ...config, buckets: [Number.NaN], registers })).toThrow(/finite/);
  });
});
