import { describe, expect, it } from 'vitest';
import { parseBenchOptions } from './options.js';

describe('parseBenchOptions', () => {
  it('runs every scenario, 3 rounds of 5 s, a 30 s soak and writes the docs by default', () => {
    const options = parseBenchOptions([]);
    expect(options.only).toContain('policy-change');
    expect(options).toMatchObject({ rounds: 3, durationSeconds: 5, soakSeconds: 30, writeDocs: true });
  });

  it('makes --quick a short smoke run that leaves the docs alone', () => {
    expect(parseBenchOptions(['--quick'])).toMatchObject({
      rounds: 1,
      durationSeconds: 1,
      writeDocs: false,
      profile: false,
    });
  });

  it('runs a subset with --only without overwriting the full report, unless asked', () => {
    expect(parseBenchOptions(['--only', 'cache-hit,blocked'])).toMatchObject({
      only: ['cache-hit', 'blocked'],
      writeDocs: false,
    });
    expect(parseBenchOptions(['--only', 'blocked', '--write-docs']).writeDocs).toBe(true);
  });

  it('accepts the 5-minute soak the issue asks for and the -- that pnpm passes through', () => {
    expect(parseBenchOptions(['--', '--soak', '300']).soakSeconds).toBe(300);
  });

  it('refuses unknown scenarios and flags with the usage, instead of running everything', () => {
    expect(() => parseBenchOptions(['--only', 'cache-hits'])).toThrow(
      /unknown scenario cache-hits[\s\S]*--only a,b/,
    );
    expect(() => parseBenchOptions(['--fast'])).toThrow(
      expect.objectContaining({ code: 'BENCH_OPTIONS_INVALID' }),
    );
    expect(() => parseBenchOptions(['--soak', '0'])).toThrow(/--soak expects a positive number/);
  });
});
