import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findCommand } from '../system/pinning.js';

const run = promisify(execFile);

/** What callgrind simulates besides counting instructions (slower, each). */
type Simulations = { cacheSim: boolean; branchSim: boolean };

/**
 * Counts the instructions a server's main thread executes while it answers some requests, with valgrind's
 * callgrind: a count, not a time, so it comes out the same on a quiet machine and on this shared 2-core VM
 * (two runs of one server agree within 1 %, where its CPU time per request moves by 20 %).
 *
 * The server runs under callgrind with instrumentation off; `measure` switches it on around the work and
 * dumps the counters. Only thread 1, the event loop, is read: V8 compiles optimised code and runs parts of
 * the garbage collector on helper threads, whose share depends on timing and would make counts wander.
 * Under valgrind a server runs some 50 times slower; warm it up first (see count-instructions.ts).
 */
export class Callgrind {
  /** Dumps requested so far, per process: callgrind numbers each process's dumps from 1. */
  private readonly dumps = new Map<number, number>();

  private constructor(
    private readonly outDir: string,
    private readonly control: string,
    private readonly simulate: Simulations,
  ) {}

  /**
   * `undefined` when valgrind is not installed (Debian: `apt-get install valgrind`). With `cacheSim`,
   * callgrind also simulates the L1 caches (32 KiB instruction, 32 KiB data) and counts their misses: what
   * a count of instructions leaves out, and a miss costs some ten cycles or more. With `branchSim`, it
   * simulates a branch predictor and counts conditional and indirect branches (`Bc`, `Bi`) and their
   * mispredictions (`Bcm`, `Bim`), another cost of ten cycles or more each that a count leaves out.
   */
  static find(outDir: string, simulate: Partial<Simulations> = {}): Callgrind | undefined {
    const valgrind = findCommand('valgrind');
    const control = findCommand('callgrind_control');
    if (valgrind === undefined || control === undefined) return undefined;
    return new Callgrind(outDir, control, { cacheSim: false, branchSim: false, ...simulate });
  }

  /** The launch wrapper (launch.ts) that runs a command under callgrind, counting nothing until told to. */
  wrapper(): string[] {
    return [
      'valgrind',
      '--tool=callgrind',
      '--instr-atstart=no',
      '--separate-threads=yes',
      ...(this.simulate.cacheSim ? ['--cache-sim=yes'] : []),
      ...(this.simulate.branchSim ? ['--branch-sim=yes'] : []),
      `--callgrind-out-file=${join(this.outDir, 'callgrind.%p')}`,
    ];
  }

  /**
   * What the main thread of `pid` did during `work`: the instructions it executed and every event callgrind
   * counted (`Ir`, and with the cache simulation `I1mr`, `D1mr`, `D1mw`…). The dump also lands in `outDir`.
   */
  async measure(
    pid: number,
    work: () => Promise<void>,
  ): Promise<{ instructions: number; events: Record<string, number>; dumpFile: string }> {
    await this.send(pid, '--instr=on');
    try {
      await work();
    } finally {
      await this.send(pid, '--instr=off');
    }
    await this.send(pid, '--dump');
    const dump = (this.dumps.get(pid) ?? 0) + 1;
    this.dumps.set(pid, dump);
    const dumpFile = await this.findDump(pid, dump);
    const events = readTotals(await readFile(dumpFile, 'utf8'));
    return { instructions: events.Ir ?? 0, events, dumpFile };
  }

  private async send(pid: number, command: string): Promise<void> {
    await run(this.control, [command, String(pid)], { timeout: 60_000 });
  }

  /** callgrind names the n-th dump of thread 1 `callgrind.PID.n-01`; it may appear a moment after the reply. */
  private async findDump(pid: number, dump: number): Promise<string> {
    const name = `callgrind.${pid}.${dump}-01`;
    for (let attempt = 0; attempt < 100; attempt++) {
      if ((await readdir(this.outDir)).includes(name)) return join(this.outDir, name);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`callgrind wrote no ${name} in ${this.outDir}`);
  }
}

/**
 * The totals of a callgrind output file by event name (its `events:` line names the columns of its
 * `totals:` line, or of `summary:` when that is all): `{ Ir: 123456 }`, more with the cache simulation.
 */
export function readTotals(text: string): Record<string, number> {
  const line = /^totals:((?:[ \t]+\d+)+)/m.exec(text) ?? /^summary:((?:[ \t]+\d+)+)/m.exec(text);
  if (line === null) throw new Error('not a callgrind output file: no totals or summary line');
  const names = /^events:(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? ['Ir'];
  const values = (line[1] ?? '').trim().split(/\s+/).map(Number);
  return Object.fromEntries(names.map((name, index) => [name, values[index] ?? 0]));
}

/** One counting window: how many requests it held and what was counted over it (instructions, misses). */
export type CountedWindow = { requests: number; count: number };

/**
 * Instructions per request, without what a counting window costs whatever it holds: every window carried
 * 30–47 million instructions more than its requests explain (source not identified; not V8's memory
 * reducer), which spread over 2,000 requests added 15,000–23,000 to each and pulled every ratio towards 1.
 * The difference between two windows of different sizes cancels the part that is fixed.
 */
export function marginalPerRequest(small: CountedWindow, large: CountedWindow): number {
  if (large.requests <= small.requests) throw new Error('the larger window must hold more requests');
  return (large.count - small.count) / (large.requests - small.requests);
}
