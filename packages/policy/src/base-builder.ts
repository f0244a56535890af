import { type HostRule, patternOf } from './host-pattern.js';
import { HostTable } from './host-table.js';
import type { OrderCore } from './order.js';

/** One order to index: its core, its rule lists (own hosts, then each notification's), its lifted patterns. */
export type BaseSource = {
  readonly core: OrderCore;
  readonly ruleLists: readonly (readonly HostRule[])[];
  readonly lifted: ReadonlySet<string> | ReadonlyMap<string, unknown>;
};

/** The built base and, per source, how many distinct rules it indexed and which kinds lifts removed. */
export type BuiltBase = {
  readonly base: HostTable;
  readonly counts: number[];
  readonly removedKinds: Map<string, Set<HostRule['kind']>>[];
};

const RULES_PER_STEP = 4096;

/**
 * Builds a base index from scratch, yielding every few thousand rules so the caller decides how to
 * schedule it: {@link buildBaseNow} runs it to the end (compilation), compaction runs it in time slices
 * between event-loop turns. A rule whose pattern is lifted is skipped and its kind remembered, so that a
 * later notification can restore exactly what the lift removed.
 */
export function* buildBase(sources: readonly BaseSource[]): Generator<void, BuiltBase> {
  let expectedNames = 0;
  for (const source of sources) for (const rules of source.ruleLists) expectedNames += rules.length;
  // Sized up front: growing a table of a million names would stall one slice of a background build.
  const base = new HostTable(expectedNames);
  yield* base.prefault();
  const counts = sources.map(() => 0);
  const removedKinds = sources.map(() => new Map<string, Set<HostRule['kind']>>());
  let step = 0;
  for (let index = 0; index < sources.length; index++) {
    const { core, ruleLists, lifted } = sources[index] as BaseSource;
    const anyLifted = lifted.size > 0;
    let count = 0;
    for (const rules of ruleLists) {
      for (let position = 0; position < rules.length; position++) {
        const rule = rules[position] as HostRule;
        if (anyLifted && lifted.has(patternOf(rule))) {
          const kinds = removedKinds[index]?.get(patternOf(rule)) ?? new Set();
          kinds.add(rule.kind);
          removedKinds[index]?.set(patternOf(rule), kinds);
        } else if (base.add(rule.name, core.refs[rule.kind], core.singles[rule.kind])) {
          count++;
        }
        if (++step === RULES_PER_STEP) {
          step = 0;
          yield;
        }
      }
    }
    counts[index] = count;
  }
  return { base, counts, removedKinds };
}

/** Runs a generator to its end and returns its result. */
export function runToEnd<T>(generator: Generator<void, T>): T {
  for (;;) {
    const step = generator.next();
    if (step.done === true) return step.value;
  }
}

/**
 * Runs a generator in slices of about `sliceMs` between event-loop turns (`setImmediate`), so requests,
 * timers and I/O are served between slices; resolves with its result, rejects with what it throws.
 */
export function runInSlices<T>(generator: Generator<void, T>, sliceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const slice = () => {
      try {
        const deadline = performance.now() + sliceMs;
        for (;;) {
          const step = generator.next();
          if (step.done === true) {
            resolve(step.value);
            return;
          }
          if (performance.now() >= deadline) break;
        }
        setImmediate(slice);
      } catch (error) {
        reject(error);
      }
    };
    setImmediate(slice);
  });
}
