import { describe, expect, it } from 'vitest';
import { parseProcStat } from './proc-stat.js';

// A real line from a node process, with the fields the parser reads marked in the test names.
const nodeLine =
  '4242 (node) S 4100 4242 4100 0 -1 4194560 20587 0 0 0 1234 567 0 0 20 0 11 0 991 1093832704 26431 ' +
  '18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0';

describe('parseProcStat', () => {
  it('reads pid, parent, user and system ticks and resident pages', () => {
    expect(parseProcStat(nodeLine)).toEqual({
      pid: 4242,
      comm: 'node',
      ppid: 4100,
      utimeTicks: 1234,
      stimeTicks: 567,
      rssPages: 26431,
    });
  });

  it('finds the fields after a command name that contains spaces and parentheses', () => {
    const line = nodeLine.replace('(node)', '(a) b (c)');
    const stat = parseProcStat(line);
    expect(stat.comm).toBe('a) b (c');
    expect(stat.utimeTicks).toBe(1234);
    expect(stat.rssPages).toBe(26431);
  });

  it('refuses a truncated line instead of reporting zero CPU', () => {
    expect(() => parseProcStat('4242 (node) S 4100 4242')).toThrow(
      expect.objectContaining({ code: 'BENCH_PROC_STAT_INVALID' }),
    );
    expect(() => parseProcStat('not a stat line')).toThrow(/no "\(comm\)" field/);
  });
});
