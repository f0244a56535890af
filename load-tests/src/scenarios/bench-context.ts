import type { BenchWorld } from '../candidates/bench-world.js';
import type { BenchOptions } from '../options.js';

/** What every scenario gets: the running candidates, the options, and a logger for progress lines. */
export type BenchContext = {
  world: BenchWorld;
  options: BenchOptions;
  log(line: string): void;
};
