import { type ChildProcess, spawn } from 'node:child_process';
import { type Pinning, pinnedCommand } from './pinning.js';

/** A process the benchmark started; `stop` is idempotent and always ends it. */
export type Launched = {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last 64 KiB of stdout and stderr, for error messages. */
  output(): string;
  /** Resolves once `predicate` matches a line of stdout (bounded by `timeoutMs`). */
  waitForLine(predicate: (line: string) => boolean, timeoutMs: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<void>;
};

export type LaunchSpec = {
  name: string;
  command: string;
  args: readonly string[];
  /** taskset CPU list; every launch is pinned explicitly because children inherit the runner's CPU. */
  cpus: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * A program that runs the command in its own process (valgrind): `[program, ...its args]`, placed
   * between taskset and the command, so `pid` is still the server's.
   */
  wrapper?: readonly string[];
};

const running = new Set<Launched>();
const outputLimit = 64 * 1024;
const stopGraceMs = 15_000;

/**
 * Starts a process pinned to `spec.cpus`. taskset execs the command, so `pid` is the server's own pid, which
 * the CPU sampler needs. Every launched process is killed when the runner exits, even on a crash.
 */
export function launch(spec: LaunchSpec, pinning: Pinning): Launched {
  const [wrapperProgram, ...wrapperArgs] = spec.wrapper ?? [];
  const { command, args } =
    wrapperProgram === undefined
      ? pinnedCommand(pinning, spec.cpus, spec.command, spec.args)
      : pinnedCommand(pinning, spec.cpus, wrapperProgram, [...wrapperArgs, spec.command, ...spec.args]);
  const child = spawn(command, args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${spec.name}: could not start ${spec.command}`);
  let tail = '';
  let pendingLine = '';
  const lineWaiters = new Set<(line: string) => void>();
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-outputLimit);
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    keep(chunk);
    pendingLine += chunk.toString('utf8');
    const lines = pendingLine.split('\n');
    pendingLine = lines.pop() ?? '';
    for (const line of lines) for (const waiter of lineWaiters) waiter(line);
  });
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const launched: Launched = {
    name: spec.name,
    pid: child.pid,
    child,
    output: () => tail,
    waitForLine: (predicate, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          lineWaiters.delete(check);
          reject(new Error(`${spec.name}: no ready line within ${timeoutMs} ms; output:\n${tail}`));
        }, timeoutMs);
        const check = (line: string) => {
          if (!predicate(line)) return;
          clearTimeout(timer);
          lineWaiters.delete(check);
          resolve(line);
        };
        lineWaiters.add(check);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${spec.name} exited (${code}) before it was ready; output:\n${tail}`));
        });
      }),
    stop: async (signal = 'SIGTERM') => {
      running.delete(launched);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
      await exited;
      clearTimeout(killer);
    },
  };
  running.add(launched);
  return launched;
}

/** Kills every process still running (runner exit, Ctrl-C); synchronous because `exit` handlers must be. */
export function killAllLaunched(): void {
  for (const launched of running) {
    if (launched.child.exitCode === null && launched.child.signalCode === null)
      launched.child.kill('SIGKILL');
  }
  running.clear();
}

process.once('exit', killAllLaunched);
