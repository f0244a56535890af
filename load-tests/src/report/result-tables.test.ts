import { describe, expect, it } from 'vitest';
import { latencyRow } from './latency-row.fixture.js';
import { latencyProblems, latencyTable } from './result-tables.js';

describe('the latency table', () => {
  const passThrough = latencyRow({
    scenario: 'pass-through',
    baseline: 'upstream',
    p99Ms: 9.3,
    baselineP99Ms: 5.5,
    addedP99Ms: 3.8,
    hopP99Ms: 8.4,
    hopAddedP99Ms: 2.9,
    beyondHopP99Ms: 0.9,
  });

  it('gives the relay p99 and what the candidate adds beyond it, and dashes where no relay ran', () => {
    const { header, cells } = latencyTable([latencyRow(), passThrough]);
    const column = (name: string) => cells.map((row) => row[header.indexOf(name)]);
    expect(column('added p99 ms')).toEqual(['+1.00', '+3.80']);
    expect(column('TCP relay p99 ms')).toEqual(['–', '8.40']);
    expect(column('added beyond the relay ms')).toEqual(['–', '+0.90']);
  });

  it('writes a difference below zero with a true minus, as the targets line does', () => {
    const { header, cells } = latencyTable([latencyRow({ addedP99Ms: -0.65 })]);
    expect(cells[0]?.[header.indexOf('added p99 ms')]).toBe('−0.65');
  });

  it("lists the relay's problems apart from the candidate's", () => {
    const failed = latencyRow({ ...passThrough, hopProblems: ['2 socket errors or timeouts'] });
    expect(latencyProblems([failed])).toEqual([
      { who: 'edge-1 pass-through', problems: ['through the TCP relay: 2 socket errors or timeouts'] },
    ]);
  });
});
