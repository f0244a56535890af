/** The fields of `/proc/PID/stat` the benchmark reads (proc(5)). */
export type ProcStat = {
  pid: number;
  /** The executable name, without the parentheses; may itself contain spaces and parentheses. */
  comm: string;
  ppid: number;
  /** CPU time in user mode, in clock ticks (`getconf CLK_TCK`, usually 100 a second). */
  utimeTicks: number;
  /** CPU time in kernel mode, in clock ticks. */
  stimeTicks: number;
  /** Resident set size, in pages (`getconf PAGESIZE`). */
  rssPages: number;
};

/**
 * Parses one `/proc/PID/stat` line. The command name sits between the first `(` and the LAST `)`, because a
 * process may call itself `a) b (c`; every field after it is separated by single spaces (proc(5): state is
 * field 3, ppid 4, utime 14, stime 15, rss 24). Throws `BENCH_PROC_STAT_INVALID` on anything else, rather
 * than returning zeros that would read as "this server used no CPU".
 */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 1 || close < open) throw procStatError(line, 'no "(comm)" field');
  const pid = Number(line.slice(0, open).trim());
  const rest = line
    .slice(close + 2)
    .trim()
    .split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const field = (n: number) => {
    const value = Number(rest[n - 3]);
    if (!Number.isSafeInteger(value)) throw procStatError(line, `field ${n} is not an integer`);
    return value;
  };
  if (!Number.isSafeInteger(pid)) throw procStatError(line, 'the pid is not an integer');
  return {
    pid,
    comm: line.slice(open + 1, close),
    ppid: field(4),
    utimeTicks: field(14),
    stimeTicks: field(15),
    rssPages: field(24),
  };
}

function procStatError(line: string, reason: string): Error {
  return Object.assign(new Error(`unreadable /proc stat line (${reason}): ${line.slice(0, 120)}`), {
    code: 'BENCH_PROC_STAT_INVALID',
  });
}
