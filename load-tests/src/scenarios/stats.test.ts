import { describe, expect, it } from 'vitest';
import { median, medianRatio } from './stats.js';

describe('median', () => {
  it('takes the middle value, or the mean of the two middle values, ignoring NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });
});

describe('medianRatio', () => {
  it('divides round by round before taking the median, so drift between rounds cancels out', () => {
    // The machine slowed down by half in round 2: both candidates did; the ratio stayed 0.8.
    expect(medianRatio([800, 400, 820], [1000, 500, 1000])).toBeCloseTo(0.8, 10);
  });

  it('skips rounds whose baseline has no figure', () => {
    expect(medianRatio([1, 2], [0, 4])).toBe(0.5);
  });
});
