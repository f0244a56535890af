/**
 * Latencies in milliseconds at full resolution (autocannon's own histogram counts whole milliseconds,
 * which turns every loopback p50 into 0 or 1). Bounded: past `capacity` samples it keeps every other one,
 * so a long soak cannot exhaust memory; percentiles stay unbiased for a steady load.
 */
export class LatencyRecorder {
  private samples: Float64Array;
  private count = 0;
  private stride = 1;
  private seen = 0;

  constructor(private readonly capacity = 4_000_000) {
    this.samples = new Float64Array(Math.min(capacity, 65_536));
  }

  record(milliseconds: number): void {
    this.seen++;
    if (this.seen % this.stride !== 0) return;
    if (this.count === this.samples.length) this.grow();
    this.samples[this.count++] = milliseconds;
  }

  /** The given percentiles (0–100) by nearest rank, sorting once; NaN with no samples. */
  percentiles(...ps: number[]): number[] {
    if (this.count === 0) return ps.map(() => Number.NaN);
    const sorted = this.samples.slice(0, this.count).sort();
    return ps.map((p) => {
      const rank = Math.min(this.count - 1, Math.max(0, Math.ceil((p / 100) * this.count) - 1));
      return sorted[rank] ?? Number.NaN;
    });
  }

  get size(): number {
    return this.count;
  }

  private grow(): void {
    if (this.samples.length < this.capacity) {
      const bigger = new Float64Array(Math.min(this.capacity, this.samples.length * 2));
      bigger.set(this.samples);
      this.samples = bigger;
      return;
    }
    // Full: keep every other sample and halve the sampling rate from now on.
    for (let index = 0; index < this.count / 2; index++) this.samples[index] = this.samples[index * 2] ?? 0;
    this.count = Math.floor(this.count / 2);
    this.stride *= 2;
  }
}
