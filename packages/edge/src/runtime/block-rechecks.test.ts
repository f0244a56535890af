import { Writable } from 'node:stream';
import { compilePolicy, type Policy } from '@edge451/policy';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BlockRechecks, type Recheck } from './block-rechecks.js';
import type { PolicyListener, PolicyView } from './policy-state.js';

const T0 = Date.parse('2026-11-30T10:00:00Z');
const second = 1_000;
const day = 86_400_000;

const order = (id: string, from: number, until?: number) => ({
  id,
  authority: 'Tribunal judiciaire de Paris',
  reference: 'RG 1',
  countries: ['FR'],
  hosts: [`${id}.example`],
  from: new Date(from).toISOString(),
  ...(until === undefined ? {} : { until: new Date(until).toISOString() }),
});

/** A policy view whose changes the test makes by hand. */
function changingPolicy(initial: Policy) {
  const listeners: PolicyListener[] = [];
  let current = initial;
  const view: PolicyView = { current: () => current, onChange: (listener) => listeners.push(listener) };
  const change = (next: Policy) => {
    const before = current;
    current = next;
    for (const listener of listeners) listener(next, before, undefined);
  };
  return { view, change };
}

function setUp(initial: Policy) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      callback();
    },
  });
  const policy = changingPolicy(initial);
  const rechecks = new BlockRechecks(policy.view, pino({ level: 'info' }, sink));
  const seen: Recheck[] = [];
  rechecks.onRecheck((recheck) => seen.push(recheck));
  return { ...policy, rechecks, seen, lines };
}

describe('BlockRechecks', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("rechecks when an order's window opens, not before, then waits for the next boundary", () => {
    const policy = compilePolicy({ orders: [order('soon', T0 + 2 * second, T0 + 5 * second)] });
    const { seen, lines } = setUp(policy);
    vi.advanceTimersByTime(2 * second - 1);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([
      { reason: 'window-boundary', policy, at: T0 + 2 * second, before: policy, beforeAt: T0 },
    ]);
    expect(lines.at(-1)).toMatchObject({
      msg: 'order window boundary passed: open exchanges and the cache checked again',
      boundary: new Date(T0 + 2 * second).toISOString(),
    });
    // The `until` is a boundary too (nothing can start blocking then, but decisions change).
    vi.advanceTimersByTime(3 * second);
    expect(seen.map((recheck) => [recheck.at, recheck.beforeAt])).toEqual([
      [T0 + 2 * second, T0],
      [T0 + 5 * second, T0 + 2 * second],
    ]);
    vi.advanceTimersByTime(365 * day);
    expect(seen).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a change is a recheck at once, and the timer follows the new policy', () => {
    const empty = compilePolicy({ orders: [] });
    const { seen, change } = setUp(empty);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(second);
    const later = compilePolicy({ orders: [order('later', T0 + 3 * second)] }, { version: 2 });
    change(later);
    expect(seen).toEqual([
      { reason: 'policy-change', policy: later, at: T0 + second, before: empty, beforeAt: T0 },
    ]);
    // Replaced before it opens: the old boundary is not waited for.
    const sooner = compilePolicy({ orders: [order('sooner', T0 + 2 * second)] }, { version: 3 });
    change(sooner);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(5 * second);
    expect(seen.map((recheck) => [recheck.reason, recheck.policy.version, recheck.at])).toEqual([
      ['policy-change', 2, T0 + second],
      ['policy-change', 3, T0 + second],
      ['window-boundary', 3, T0 + 2 * second],
    ]);
  });

  it("waits past setTimeout's limit in steps, and never runs on a timer that fires before the clock", () => {
    const far = T0 + 40 * day;
    const { seen } = setUp(compilePolicy({ orders: [order('far', far)] }));
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(seen).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(far - Date.now() - 1);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen.map((recheck) => recheck.at)).toEqual([far]);

    // The wall clock stepped back after arming: the timer fires, finds the boundary not reached, re-arms.
    const { seen: stepped } = setUp(compilePolicy({ orders: [order('stepped', Date.now() + second)] }));
    vi.setSystemTime(Date.now() - 500);
    vi.advanceTimersByTime(second);
    expect(stepped).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(stepped).toHaveLength(1);
  });

  it('its timer never keeps the process alive, and close() stops it', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const { rechecks } = setUp(compilePolicy({ orders: [order('soon', T0 + second)] }));
    const timer = spy.mock.results.at(-1)?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    rechecks.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a listener that throws is logged, and the others and the timer go on', () => {
    const { rechecks, seen, lines } = setUp(
      compilePolicy({ orders: [order('a', T0 + second), order('b', T0 + 2 * second)] }),
    );
    rechecks.onRecheck(() => {
      throw new Error('listener trouble');
    });
    vi.advanceTimersByTime(2 * second);
    expect(seen).toHaveLength(2);
    expect(lines.filter((line) => line.msg === 'block recheck failed')).toHaveLength(2);
  });
});
