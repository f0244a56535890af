import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Where processes run. With `taskset` and 2+ cores: the server under test on CPU 1, the load generator (this
 * process, wrk) and the upstream origin on CPU 0, so the server has a core of its own. Without it,
 * everything shares the machine and `note` says so for the report.
 */
export type Pinning = {
  available: boolean;
  serverCpus: string;
  generatorCpus: string;
  allCpus: string;
  note: string;
};

/** Detects `taskset` and the core count; never throws. */
export function detectPinning(): Pinning {
  const cores = availableParallelism();
  const allCpus = cores > 1 ? `0-${cores - 1}` : '0';
  if (findCommand('taskset') === undefined) {
    return {
      available: false,
      serverCpus: allCpus,
      generatorCpus: allCpus,
      allCpus,
      note: 'taskset not found: no pinning',
    };
  }
  if (cores < 2) {
    return { available: false, serverCpus: '0', generatorCpus: '0', allCpus, note: 'one core: no pinning' };
  }
  return {
    available: true,
    serverCpus: '1',
    generatorCpus: '0',
    allCpus,
    note: 'server on CPU 1; load generator and upstream origin on CPU 0 (taskset)',
  };
}

/**
 * The command line that runs `command` on `cpus` (a taskset list such as "1" or "0-1"), or the command as
 * is without pinning. Children inherit the runner's own pinning, so a server meant for every core must be
 * given `allCpus` explicitly, not left unpinned.
 */
export function pinnedCommand(
  pinning: Pinning,
  cpus: string,
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  if (!pinning.available) return { command, args: [...args] };
  return { command: 'taskset', args: ['-c', cpus, command, ...args] };
}

/** Pins every thread of this process (the autocannon load generator) to the generator's CPUs. */
export function pinThisProcess(pinning: Pinning): void {
  if (!pinning.available) return;
  execFileSync('taskset', ['-a', '-p', '-c', pinning.generatorCpus, String(process.pid)], {
    stdio: 'ignore',
  });
}

/** The absolute path of an executable found on PATH (plus the sbin folders nginx lives in), or undefined. */
export function findCommand(command: string): string | undefined {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const folder of folders) {
    if (folder === '') continue;
    const candidate = join(folder, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}
