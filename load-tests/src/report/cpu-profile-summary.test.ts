import { describe, expect, it } from 'vitest';
import { type CpuProfile, ownerOf, summarizeCpuProfile } from './cpu-profile-summary.js';

const frame = (id: number, functionName: string, url: string, lineNumber = 0, children: number[] = []) => ({
  id,
  callFrame: { functionName, url, lineNumber },
  children,
});

const profile: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', 0, [2, 3, 5, 6]),
    frame(2, '(idle)', ''),
    frame(3, 'decide', 'file:///work/main/packages/policy/dist/decide.js', 41, [4]),
    frame(4, 'writeHead', 'node:_http_server', 300),
    frame(5, '(garbage collector)', ''),
    frame(
      6,
      'get',
      'file:///r/node_modules/.pnpm/lru-cache@11.5.3/node_modules/lru-cache/dist/esm/index.js',
      9,
    ),
  ],
  // Each sample's time delta is charged to the function that was on top of the stack.
  samples: [2, 3, 3, 4, 5, 6, 2],
  timeDeltas: [5000, 300, 300, 200, 100, 100, 5000],
};

describe('summarizeCpuProfile', () => {
  it('ranks functions by self time, names the nearest caller of ours, and leaves idle time out', () => {
    const summary = summarizeCpuProfile(profile, { topCount: 2 });
    expect(summary.busyMs).toBeCloseTo(1.0, 6);
    expect(summary.idleShare).toBeCloseTo(10 / 11, 6);
    expect(summary.top).toEqual([
      {
        name: 'decide',
        where: 'policy/decide.js:42',
        selfMs: 0.6,
        share: 0.6,
        via: 'decide (policy/decide.js:42)',
      },
      {
        name: 'writeHead',
        where: 'node:_http_server:301',
        selfMs: 0.2,
        share: expect.closeTo(0.2, 6),
        via: 'decide (policy/decide.js:42)',
      },
    ]);
  });

  it('charges time to the code owner: our packages, dependencies, node internals, the collector', () => {
    const shares = Object.fromEntries(
      summarizeCpuProfile(profile).byOwner.map(({ owner, share }) => [owner, share]),
    );
    expect(shares).toEqual({
      '@edge451/policy': expect.closeTo(0.6, 6),
      'node internals': expect.closeTo(0.2, 6),
      '(garbage collector)': expect.closeTo(0.1, 6),
      'lru-cache': expect.closeTo(0.1, 6),
    });
  });
});

describe('summarizeCpuProfile with skipFirstMs', () => {
  it('leaves start-up out: samples before the cut-off count nowhere', () => {
    // 5 ms idle, then 0.3 ms of decide: cutting the first 5.1 ms keeps only the second decide sample.
    const summary = summarizeCpuProfile(profile, { skipFirstMs: 5.4 });
    expect(summary.top[0]).toMatchObject({ name: 'decide', selfMs: 0.3 });
    expect(summary.busyMs).toBeCloseTo(0.7, 6);
  });
});

describe('ownerOf', () => {
  it('names scoped dependencies whole and workspace packages by folder', () => {
    expect(ownerOf('file:///r/node_modules/.pnpm/@fastify+x@1/node_modules/@fastify/x/i.js', 'f')).toBe(
      '@fastify/x',
    );
    expect(ownerOf('file:///r/packages/edge/dist/lifecycle/route.js', 'route')).toBe('@edge451/edge');
    expect(ownerOf('', '(program)')).toBe('(program)');
  });
});
