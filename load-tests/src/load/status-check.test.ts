import { describe, expect, it } from 'vitest';
import { checkStatuses } from './status-check.js';

describe('checkStatuses', () => {
  it('calls a 200 where a 451 was due an error, not throughput', () => {
    expect(checkStatuses({ 451: 990, 200: 10 }, { only: [451] })).toEqual([
      '10 of 1000 responses were 200, expected only 451',
    ]);
    expect(checkStatuses({ 451: 1000 }, { only: [451] })).toEqual([]);
  });

  it('checks each status share of a mixed load within the tolerance', () => {
    const mix = { shares: { 200: 0.95, 451: 0.05 }, tolerance: 0.01 };
    expect(checkStatuses({ 200: 9_480, 451: 520 }, mix)).toEqual([]);
    expect(checkStatuses({ 200: 10_000 }, mix)).toEqual([
      '100.0 % of responses were 200, expected 95.0 %',
      '0.0 % of responses were 451, expected 5.0 %',
    ]);
    expect(checkStatuses({ 200: 9_500, 451: 499, 502: 1 }, mix)).toEqual([
      '1 of 10000 responses were 502, not an expected status',
    ]);
  });

  it("reads wrk's coarse counts: any 2xx/3xx is wrong when only 451 is due, any other status when 200 is", () => {
    expect(checkStatuses({ '2xx-3xx': 0, other: 500 }, { only: [451] })).toEqual([]);
    expect(checkStatuses({ '2xx-3xx': 3, other: 497 }, { only: [451] })).toEqual([
      '3 of 500 responses were 2xx/3xx, expected only 451',
    ]);
    expect(checkStatuses({ '2xx-3xx': 499, other: 1 }, { only: [200] })).toEqual([
      '1 of 500 responses were 4xx/5xx, expected only 200',
    ]);
  });

  it('treats a run without a single response as a failure', () => {
    expect(checkStatuses({}, { only: [200] })).toEqual(['no responses at all']);
  });
});
