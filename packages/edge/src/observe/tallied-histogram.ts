import type { Aggregator, Metric, Registry } from 'prom-client';

type Tally<L extends string> = {
  labels: Record<L, string>;
  /** Observations per bucket, not cumulative; the last one is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
};

type Sample = { labels: Record<string, string | number>; value: number; metricName: string };

/**
 * A Prometheus histogram for the request path, registered with prom-client's registry as a metric of its
 * own: `observe` adds to a tally in a Map under a key the caller builds, and `get` hands the registry the
 * values prom-client's own Histogram would (same names, labels, order; a test compares the exposition and
 * the cluster aggregation with a real one fed the same values). prom-client's `observe` validates and
 * hashes the label object and indexes its buckets by number-keyed properties on every call: ~3,000
 * instructions of every request (`pnpm bench:instructions`), where this costs a few hundred. prom-client
 * has no way to add bucket counts in bulk, which is why this is not a `collect` over a real Histogram the
 * way TalliedCounter folds into a real Counter.
 */
export class TalliedHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator: Aggregator = 'sum';
  readonly #upperBounds: readonly number[];
  readonly #tallies = new Map<string, Tally<L>>();

  constructor(config: {
    name: string;
    help: string;
    labelNames: readonly L[];
    buckets: readonly number[];
    registers: Registry[];
  }) {
    this.name = config.name;
    this.help = config.help;
    const sorted = [...config.buckets].sort((a, b) => a - b);
    if (sorted.some((bound, index) => !Number.isFinite(bound) || bound === sorted[index - 1])) {
      throw new Error(`histogram ${config.name}: buckets must be distinct finite numbers`);
    }
    this.#upperBounds = sorted;
    // The registry reads name, help, type, aggregator, get() and reset(): what this class provides.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  /**
   * Records `value` under `key`, which must identify the label values; `labels` is called only the first
   * time a key is seen. Like prom-client, a value on a bound falls in that bound's bucket.
   */
  observe(key: string, labels: () => Record<L, string>, value: number): void {
    let tally = this.#tallies.get(key);
    if (tally === undefined) {
      tally = { labels: labels(), counts: new Float64Array(this.#upperBounds.length + 1), sum: 0, count: 0 };
      this.#tallies.set(key, tally);
    }
    const bounds = this.#upperBounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
    (tally.counts[bucket] as number)++;
    tally.sum += value;
    tally.count++;
  }

  /** The values of every label set, in prom-client's Histogram order: cumulative buckets, +Inf, sum, count. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: Aggregator;
    values: Sample[];
  }> {
    const values: Sample[] = [];
    for (const tally of this.#tallies.values()) {
      let cumulative = 0;
      this.#upperBounds.forEach((le, bucket) => {
        cumulative += tally.counts[bucket] as number;
        values.push({
          labels: { le, ...tally.labels },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push(
        { labels: { le: '+Inf', ...tally.labels }, value: tally.count, metricName: `${this.name}_bucket` },
        { labels: { ...tally.labels }, value: tally.sum, metricName: `${this.name}_sum` },
        { labels: { ...tally.labels }, value: tally.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#tallies.clear();
  }
}
