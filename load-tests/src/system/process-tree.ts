import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { type ProcStat, parseProcStat } from './proc-stat.js';

/** CPU time and memory of a process and all its descendants at one instant. */
export type TreeUsage = {
  cpuSeconds: number;
  rssBytes: number;
  /**
   * Proportional set size (smaps_rollup), only with `proportional: true`: pages shared between the tree's
   * processes (nginx's master and worker, copy-on-write) count once in total instead of once per process.
   */
  pssBytes: number;
  processes: number;
};

const clockTicksPerSecond = readConstant('CLK_TCK', 100);
const pageBytes = readConstant('PAGESIZE', 4096);

/** Whether `/proc` can be read here (Linux). Without it, CPU and RSS columns are left empty. */
export const hasProcFs = (() => {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

/**
 * Sums utime+stime and RSS over `rootPid` and every descendant (a cluster's workers, nginx's worker),
 * from one scan of `/proc`. Returns undefined when `/proc` is missing or the root process is gone.
 * CPU seconds only grow while the tree lives, so the difference of two samples is the CPU a run cost —
 * meaningful even when the load generator, not the server, was the limit.
 */
export function sampleProcessTree(rootPid: number, { proportional = false } = {}): TreeUsage | undefined {
  if (!hasProcFs) return undefined;
  const all = readAllStats();
  if (!all.some((stat) => stat.pid === rootPid)) return undefined;
  const members = descendantsOf(rootPid, all);
  let ticks = 0;
  let pages = 0;
  for (const stat of members) {
    ticks += stat.utimeTicks + stat.stimeTicks;
    pages += stat.rssPages;
  }
  const pssBytes = proportional ? members.reduce((sum, stat) => sum + readPssBytes(stat.pid), 0) : Number.NaN;
  return {
    cpuSeconds: ticks / clockTicksPerSecond,
    rssBytes: pages * pageBytes,
    pssBytes,
    processes: members.length,
  };
}

function readPssBytes(pid: number): number {
  try {
    const line = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return line === null ? Number.NaN : Number(line[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

/** `rootPid`'s stat and its descendants', found by following parent ids. */
export function descendantsOf(rootPid: number, all: readonly ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const stat of all) {
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(stat);
    children.set(stat.ppid, siblings);
  }
  const root = all.find((stat) => stat.pid === rootPid);
  if (root === undefined) return [];
  const found: ProcStat[] = [root];
  for (let index = 0; index < found.length; index++) {
    const pid = found[index]?.pid;
    if (pid !== undefined) found.push(...(children.get(pid) ?? []));
  }
  return found;
}

/** Every readable `/proc/PID/stat`; processes that exit during the scan are skipped. */
export function readAllStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      stats.push(parseProcStat(readFileSync(`/proc/${entry}/stat`, 'utf8')));
    } catch {
      // Gone between readdir and read: not part of any tree we measure.
    }
  }
  return stats;
}

/** Clock ticks a second, for turning stat ticks into seconds. */
export function ticksToSeconds(ticks: number): number {
  return ticks / clockTicksPerSecond;
}

function readConstant(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}
