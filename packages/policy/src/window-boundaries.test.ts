import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import { diffBlockedHosts } from './diff.js';
import type { OrderDocument } from './document.js';
import type { Policy } from './policy.js';
import type { PolicyChange } from './validate-change.js';

const T0 = Date.parse('2025-03-01T00:00:00Z');
const minute = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const order = (
  id: string,
  hosts: string[],
  window: { from?: number; until?: number } = {},
): OrderDocument => ({
  id,
  authority: 'Tribunal judiciaire de Paris',
  reference: 'RG 25/00000',
  countries: ['FR'],
  hosts,
  ...(window.from === undefined ? {} : { from: iso(window.from) }),
  ...(window.until === undefined ? {} : { until: iso(window.until) }),
});
const notify = (orderId: string, hosts: string[]): PolicyChange => ({
  type: 'notify',
  orderId,
  hosts,
  notifiedBy: 'ARCOM',
  reference: 'n',
});

describe('nextBoundaryAfter', () => {
  const policy = compilePolicy({
    orders: [
      order('later', ['later.example'], { from: T0 + 10 * minute, until: T0 + 20 * minute }),
      order('open-ended', ['open.example'], { from: T0 + 5 * minute }),
      order('always', ['always.example']),
      // The same instant twice is one boundary.
      order('renewal', ['later.example'], { from: T0 + 20 * minute }),
    ],
  });

  it('is the next `from` (inclusive) or `until` (exclusive) strictly after the instant, or undefined', () => {
    expect(policy.nextBoundaryAfter(T0)).toBe(T0 + 5 * minute);
    expect(policy.nextBoundaryAfter(T0 + 5 * minute - 1)).toBe(T0 + 5 * minute);
    expect(policy.nextBoundaryAfter(T0 + 5 * minute)).toBe(T0 + 10 * minute);
    expect(policy.nextBoundaryAfter(T0 + 10 * minute)).toBe(T0 + 20 * minute);
    expect(policy.nextBoundaryAfter(T0 + 20 * minute)).toBeUndefined();
    expect(policy.nextBoundaryAfter(Number.NEGATIVE_INFINITY)).toBe(T0 + 5 * minute);
    expect(policy.nextBoundaryAfter(Number.NaN)).toBeUndefined();
    expect(compilePolicy({ orders: [order('always', ['a.example'])] }).nextBoundaryAfter(0)).toBeUndefined();
  });

  it('follows the changes that add, replace or delete an order; notifications take their order’s window', () => {
    const start = compilePolicy({ orders: [order('o', ['a.example'], { from: T0 + minute })] });
    const added = start.apply({
      type: 'put-order',
      order: order('p', ['b.example'], { from: T0 + 2 * minute, until: T0 + 3 * minute }),
    });
    expect(added.nextBoundaryAfter(T0 + minute)).toBe(T0 + 2 * minute);
    const replaced = added.apply({
      type: 'put-order',
      order: order('p', ['b.example'], { from: T0 + 4 * minute }),
    });
    expect(replaced.nextBoundaryAfter(T0 + minute)).toBe(T0 + 4 * minute);
    const deleted = replaced.apply({ type: 'delete-order', orderId: 'o' });
    expect(deleted.nextBoundaryAfter(0)).toBe(T0 + 4 * minute);
    const notified = deleted.apply(notify('p', ['mirror.example']));
    expect(notified.nextBoundaryAfter(0)).toBe(T0 + 4 * minute);
    expect(notified.decide({ host: 'mirror.example', country: 'FR', at: T0 + 4 * minute - 1 }).blocked).toBe(
      false,
    );
    expect(notified.decide({ host: 'mirror.example', country: 'FR', at: T0 + 4 * minute }).blocked).toBe(
      true,
    );
    expect(notified.compact().nextBoundaryAfter(0)).toBe(T0 + 4 * minute);
  });
});

describe('diffBlockedHosts and windows', () => {
  const change = T0;
  const from = T0 + 10 * minute;

  it('an order put with a later `from` starts blocking, and is purged, at its `from`, not at the change', () => {
    const before = compilePolicy({ orders: [] });
    const after = before.apply({
      type: 'put-order',
      order: order('later', ['later.example', '*.mirrors.example'], { from }),
    });
    expect(diffBlockedHosts(before, after, { beforeAt: change, afterAt: change })).toEqual([]);
    expect(diffBlockedHosts(after, after, { beforeAt: change, afterAt: from - 1 })).toEqual([]);
    expect(diffBlockedHosts(after, after, { beforeAt: change, afterAt: from })).toEqual([
      '*.mirrors.example',
      'later.example',
    ]);
    // A host notified meanwhile starts with its order.
    const notified = after.apply(notify('later', ['notified.example']));
    expect(diffBlockedHosts(after, notified, { beforeAt: change, afterAt: change })).toEqual([]);
    expect(diffBlockedHosts(notified, notified, { beforeAt: change, afterAt: from })).toContain(
      'notified.example',
    );
    // Once in force, it has nothing new to purge.
    expect(diffBlockedHosts(notified, notified, { beforeAt: from, afterAt: from + minute })).toEqual([]);
  });

  it('an order moved from a later `from` to now starts blocking at the change; an expired one never does', () => {
    const later = compilePolicy({ orders: [order('o', ['a.example'], { from })] });
    const now = later.apply({ type: 'put-order', order: order('o', ['a.example'], { from: change }) });
    expect(diffBlockedHosts(later, now, { beforeAt: change, afterAt: change })).toEqual(['a.example']);
    const expired = later.apply({
      type: 'put-order',
      order: order('o', ['a.example'], { from: change - 2 * minute, until: change - minute }),
    });
    expect(diffBlockedHosts(later, expired, { beforeAt: change, afterAt: change })).toEqual([]);
  });

  it('a window that opens purges nothing for an order with purgeCache false', () => {
    const policy = compilePolicy({ orders: [{ ...order('o', ['a.example'], { from }), purgeCache: false }] });
    expect(diffBlockedHosts(policy, policy, { beforeAt: change, afterAt: from })).toEqual([]);
  });
});

// Properties against naive scans of the public `orders`, over random policies and change chains.

const INSTANTS = [0, 1, 2, 3, 4, 5].map((step) => T0 + step * minute);
const hostPool = ['a.example', 'b.example', '*.c.example', 'd.example'];
const window = fc
  .tuple(fc.option(fc.constantFrom(...INSTANTS)), fc.option(fc.constantFrom(...INSTANTS)))
  .map(([from, until]) =>
    from !== null && until !== null && until <= from
      ? { from }
      : { from: from ?? undefined, until: until ?? undefined },
  );
const generatedOrder = fc
  .record({
    id: fc.constantFrom('o1', 'o2', 'o3'),
    hosts: fc.subarray(hostPool, { minLength: 1 }),
    window,
    purgeCache: fc.boolean(),
    includeSubdomains: fc.boolean(),
  })
  .map(({ id, hosts, window, purgeCache, includeSubdomains }) => ({
    ...order(id, hosts, window),
    purgeCache,
    includeSubdomains,
  }));
const generatedChange: fc.Arbitrary<PolicyChange> = fc.oneof(
  generatedOrder.map((order) => ({ type: 'put-order' as const, order })),
  fc.constantFrom('o1', 'o2', 'o3').map((orderId) => ({ type: 'delete-order' as const, orderId })),
  fc
    .tuple(fc.constantFrom('o1', 'o2', 'o3'), fc.subarray(['e.example', '*.f.example'], { minLength: 1 }))
    .map(([orderId, hosts]) => notify(orderId, hosts)),
);
const generatedPolicy = fc
  .tuple(
    fc.uniqueArray(generatedOrder, { selector: (each) => each.id, maxLength: 3 }),
    fc.array(generatedChange),
  )
  .map(([orders, changes]) => {
    let policy = compilePolicy({ orders }, { compaction: 'manual' });
    for (const each of changes) {
      try {
        policy = policy.apply(each);
      } catch {
        // A change naming an order that is not there leaves the policy as it was.
      }
    }
    return policy;
  });
const instant = fc.constantFrom(...INSTANTS.flatMap((at) => [at - 1, at, at + 1]));

const windowOf = (each: Policy['orders'][number]) => ({
  fromMs: each.from === undefined ? Number.NEGATIVE_INFINITY : Date.parse(each.from),
  untilMs: each.until === undefined ? Number.POSITIVE_INFINITY : Date.parse(each.until),
});
const inForce = (each: Policy['orders'][number], at: number) => {
  const { fromMs, untilMs } = windowOf(each);
  return fromMs <= at && at < untilMs;
};

describe('window boundaries against naive scans', () => {
  it('nextBoundaryAfter is the smallest `from` or `until` of any order after the instant', () => {
    fc.assert(
      fc.property(generatedPolicy, instant, (policy, at) => {
        const later = policy.orders
          .flatMap((each) => [windowOf(each).fromMs, windowOf(each).untilMs])
          .filter((each) => Number.isFinite(each) && each > at);
        expect(policy.nextBoundaryAfter(at)).toBe(later.length === 0 ? undefined : Math.min(...later));
      }),
      { numRuns: 500 },
    );
  });

  it('no decision changes between an instant and the next boundary', () => {
    const host = fc.constantFrom('a.example', 'x.c.example', 'e.example', 'y.f.example', 'd.example');
    fc.assert(
      fc.property(
        generatedPolicy,
        instant,
        host,
        fc.constantFrom('FR', 'DE', null),
        (policy, at, name, country) => {
          const last = (policy.nextBoundaryAfter(at) ?? at + 365 * 86_400_000) - 1;
          const decide = (when: number) => policy.decide({ host: name, country, at: when });
          expect(decide(last)).toEqual(decide(at));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('between two instants, the patterns of purging orders whose window opened are the ones to purge', () => {
    fc.assert(
      fc.property(generatedPolicy, instant, instant, (policy, beforeAt, afterAt) => {
        const expected = new Set<string>();
        for (const each of policy.orders) {
          if (!each.purgeCache || !inForce(each, afterAt) || inForce(each, beforeAt)) continue;
          for (const { host, includeSubdomains } of each.hosts) {
            expected.add(host);
            if (includeSubdomains) expected.add(`*.${host}`);
          }
        }
        expect(diffBlockedHosts(policy, policy, { beforeAt, afterAt })).toEqual([...expected].sort());
      }),
      { numRuns: 500 },
    );
  });
});

describe('diffBlockedHosts across a change, against a naive scan', () => {
  it('lists the patterns a purging order in force blocks after the change and did not before', () => {
    fc.assert(
      fc.property(generatedPolicy, generatedChange, instant, instant, (before, change, beforeAt, afterAt) => {
        let after: Policy;
        try {
          after = before.apply(change);
        } catch {
          return;
        }
        const expected = new Set<string>();
        for (const each of after.orders) {
          if (!each.purgeCache || !inForce(each, afterAt)) continue;
          const previous = before.orders.find((candidate) => candidate.id === each.id);
          const had = new Set(
            previous !== undefined && inForce(previous, beforeAt)
              ? previous.hosts.map((rule) => `${rule.host} ${rule.includeSubdomains}`)
              : [],
          );
          for (const { host, includeSubdomains } of each.hosts) {
            if (had.has(`${host} ${includeSubdomains}`)) continue;
            expected.add(host);
            if (includeSubdomains) expected.add(`*.${host}`);
          }
        }
        expect(diffBlockedHosts(before, after, { beforeAt, afterAt })).toEqual([...expected].sort());
      }),
      { numRuns: 500 },
    );
  });
});
