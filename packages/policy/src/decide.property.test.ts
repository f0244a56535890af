import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import type { HostEntry, PolicyDocument } from './index.js';
import { normalizeHost } from './index.js';
import type { Policy } from './policy.js';
import type { PolicyChange } from './validate-change.js';

// A naive reference: every rule of every order scanned linearly, written from DECISIONS #2–#6 without
// sharing anything with the implementation but normalizeHost (which host.test.ts covers).

type Kind = 'exact' | 'subtree' | 'wildcard';
type Rule = { name: string; kind: Kind };
type ModelOrder = {
  id: string;
  countries: string[];
  from?: number;
  until?: number;
  includeSubdomains: boolean;
  rules: Rule[];
};
type ModelNotification = { orderId: string; rules: Rule[]; at: number };
type ModelLift = { orderId: string; rule: Rule; at: number };
type Model = {
  unknownCountry: 'allow' | 'block';
  orders: ModelOrder[];
  notifications: ModelNotification[];
  lifts: ModelLift[];
};

const RANK: Record<Kind, number> = { exact: 0, subtree: 1, wildcard: 2 };
const patternOf = (rule: Rule) => (rule.kind === 'wildcard' ? `*.${rule.name}` : rule.name);
const iso = (ms: number) => new Date(ms).toISOString();

function effectiveRules(model: Model, order: ModelOrder): Rule[] {
  const notified = model.notifications.filter((n) => n.orderId === order.id);
  const isLifted = (rule: Rule) => {
    const lifts = model.lifts.filter((l) => l.orderId === order.id && patternOf(l.rule) === patternOf(rule));
    if (lifts.length === 0) return false;
    const lifted = Math.max(...lifts.map((l) => l.at));
    const renotified = Math.max(
      -Infinity,
      ...notified.filter((n) => n.rules.some((r) => patternOf(r) === patternOf(rule))).map((n) => n.at),
    );
    return lifted >= renotified;
  };
  return [...order.rules, ...notified.flatMap((n) => n.rules)].filter((rule) => !isLifted(rule));
}

function referenceDecide(model: Model, rawHost: string, rawCountry: string | null, at: number) {
  const normalized = normalizeHost(rawHost);
  if (!normalized.ok) return { blocked: false, reason: 'invalid-host' };
  if (normalized.kind !== 'name') return { blocked: false, reason: 'ip-literal' };
  const host = normalized.host;
  const country = rawCountry === null || rawCountry === '' ? undefined : rawCountry.toUpperCase();
  const candidates = model.orders.flatMap((order) =>
    effectiveRules(model, order)
      .filter((rule) => {
        const under = host.endsWith(`.${rule.name}`);
        return rule.kind === 'exact'
          ? host === rule.name
          : rule.kind === 'wildcard'
            ? under
            : host === rule.name || under;
      })
      .map((rule) => ({ order, rule })),
  );
  candidates.sort(
    (a, b) =>
      RANK[a.rule.kind] - RANK[b.rule.kind] ||
      b.rule.name.length - a.rule.name.length ||
      (a.order.from ?? -Infinity) - (b.order.from ?? -Infinity) ||
      (a.order.id < b.order.id ? -1 : 1),
  );
  const active = candidates.filter(
    ({ order }) => (order.from ?? -Infinity) <= at && at < (order.until ?? Infinity),
  );
  const covers = ({ order }: { order: ModelOrder }) =>
    country === undefined ? model.unknownCountry === 'block' : order.countries.includes(country);
  const result = (blocked: boolean, reason: string, match: (typeof candidates)[number]) => ({
    blocked,
    reason,
    orderId: match.order.id,
    matchedHost: patternOf(match.rule),
  });
  const blocking = active.find(covers);
  if (blocking)
    return result(true, country === undefined ? 'unknown-country-blocked' : 'order-match', blocking);
  if (active[0])
    return result(
      false,
      country === undefined ? 'unknown-country-allowed' : 'country-not-covered',
      active[0],
    );
  if (candidates[0]) return result(false, 'outside-window', candidates[0]);
  return { blocked: false, reason: 'no-order' };
}

function actual(policy: Policy, host: string, country: string | null, at: number) {
  const decision = policy.decide({ host, country, at });
  return {
    blocked: decision.blocked,
    reason: decision.reason,
    ...(decision.order === undefined
      ? {}
      : { orderId: decision.order.id, matchedHost: decision.matchedHost }),
  };
}

function toDocument(model: Model): PolicyDocument {
  const entry = (rule: Rule, includeSubdomains: boolean): HostEntry =>
    rule.kind === 'wildcard'
      ? patternOf(rule)
      : (rule.kind === 'subtree') === includeSubdomains
        ? rule.name
        : { host: rule.name, includeSubdomains: rule.kind === 'subtree' };
  const defaults = new Map(model.orders.map((order) => [order.id, order.includeSubdomains]));
  return {
    unknownCountry: model.unknownCountry,
    orders: model.orders.map((order) => ({
      id: order.id,
      authority: 'court',
      reference: 'ref',
      countries: order.countries,
      hosts: order.rules.map((rule) => entry(rule, order.includeSubdomains)),
      includeSubdomains: order.includeSubdomains,
      ...(order.from === undefined ? {} : { from: iso(order.from) }),
      ...(order.until === undefined ? {} : { until: iso(order.until) }),
    })),
    notifications: model.notifications.map((n) => ({
      orderId: n.orderId,
      hosts: n.rules.map((rule) => entry(rule, defaults.get(n.orderId) ?? false)),
      notifiedBy: 'ARCOM',
      reference: 'n',
      at: iso(n.at),
    })),
    lifts: model.lifts.map((l) => ({
      orderId: l.orderId,
      host: patternOf(l.rule),
      liftedBy: 'court',
      at: iso(l.at),
    })),
  };
}

// Small pools, so that orders overlap, nest and compete.
const TIMES = [0, 1, 2, 3, 4].map((day) => Date.parse('2025-03-01T00:00:00Z') + day * 86_400_000);
const name = fc
  .tuple(
    fc.array(fc.constantFrom('a', 'b', 'www', 'cdn'), { maxLength: 2 }),
    fc.constantFrom('stream.me', 'live.lat', 'tv.com'),
  )
  .map(([labels, base]) => [...labels, base].join('.'));
const rule = fc.record({ name, kind: fc.constantFrom<Kind>('exact', 'subtree', 'wildcard') });
const window = fc.option(fc.constantFrom(...TIMES), { nil: undefined });

const model: fc.Arbitrary<Model> = fc
  .record({
    unknownCountry: fc.constantFrom<'allow' | 'block'>('allow', 'block'),
    orders: fc.uniqueArray(
      fc.record({
        id: fc.constantFrom('o1', 'o2', 'o3', 'o4'),
        countries: fc.subarray(['FR', 'DE', 'GP'], { minLength: 1 }),
        from: window,
        until: window,
        includeSubdomains: fc.boolean(),
        rules: fc.array(rule, { minLength: 1, maxLength: 4 }),
      }),
      { selector: (order) => order.id, minLength: 1, maxLength: 4 },
    ),
    notifications: fc.array(
      fc.record({
        order: fc.nat(3),
        rules: fc.array(rule, { minLength: 1, maxLength: 2 }),
        at: fc.constantFrom(...TIMES),
      }),
      {
        maxLength: 3,
      },
    ),
    lifts: fc.array(fc.record({ order: fc.nat(3), pick: fc.nat(20), at: fc.constantFrom(...TIMES) }), {
      maxLength: 3,
    }),
  })
  .map(({ unknownCountry, orders, notifications, lifts }) => {
    const windowed = orders.map((order) =>
      order.from !== undefined && order.until !== undefined && order.until <= order.from
        ? { ...order, until: undefined }
        : order,
    );
    const orderAt = (index: number) => windowed[index % windowed.length] as ModelOrder;
    const modelNotifications = notifications.map((n) => ({
      orderId: orderAt(n.order).id,
      rules: n.rules,
      at: n.at,
    }));
    // A lift must name a rule its order lists or was notified.
    const modelLifts = lifts.map((l) => {
      const order = orderAt(l.order);
      const named = [
        ...order.rules,
        ...modelNotifications.filter((n) => n.orderId === order.id).flatMap((n) => n.rules),
      ];
      const target = named[l.pick % named.length] as Rule;
      return {
        orderId: order.id,
        rule: target.kind === 'wildcard' ? target : { name: target.name, kind: 'exact' as Kind },
        at: l.at,
      };
    });
    return { unknownCountry, orders: windowed, notifications: modelNotifications, lifts: modelLifts };
  });

// Hosts the fast path must hand to normalizeHost, or decide exactly as normalizeHost would.
const oddHost = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('xn--bcher-kva.stream.me', 'XN--zz.stream.me', '1.2.3.4', 'a..stream.me', 'stream.me..'),
  fc.constantFrom('stream.me:99999', '[::1]', 'stream.me:', 'ｓtream.me', 'a b.stream.me', 'a_b.stream.me'),
  fc.constantFrom(
    'stream.123',
    'STREAM.ME.:8080',
    '0x1f.stream.me',
    'stream.0x1f',
    '-.stream.me',
    '.stream.me',
  ),
);

const query = fc.record({
  host: fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.constantFrom('', 'x.', 'a.', 'www.', 'b.a.', 'cdn.www.'),
          name,
          fc.constantFrom('', '.', ':443'),
          fc.boolean(),
        )
        .map(([prefix, base, suffix, upper]) => {
          const host = `${prefix}${base}${suffix}`;
          return upper ? host.toUpperCase() : host;
        }),
    },
    { weight: 1, arbitrary: oddHost },
  ),
  country: fc.constantFrom('FR', 'fr', 'DE', 'GP', 'US', null, ''),
  at: fc.constantFrom(...TIMES.map((time) => time - 1), ...TIMES),
});

describe('decide() against a naive linear scan', () => {
  it('normalises exactly as normalizeHost, whatever the host', () => {
    const policy = compilePolicy({
      orders: [
        {
          id: 'o',
          authority: 'a',
          reference: 'r',
          countries: ['FR'],
          hosts: ['stream.me', '*.stream.me', 'a_b.stream.me'],
        },
      ],
    });
    fc.assert(
      fc.property(fc.oneof(oddHost, fc.string({ unit: 'binary', maxLength: 40 }), fc.domain()), (host) => {
        const decision = policy.decide({ host, country: 'FR' });
        const normalized = normalizeHost(host);
        if (!normalized.ok) return decision.reason === 'invalid-host';
        if (normalized.kind !== 'name')
          return decision.reason === 'ip-literal' && decision.host === normalized.host;
        return decision.host === normalized.host;
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees on random orders, notifications, lifts, hosts, countries and times', () => {
    fc.assert(
      fc.property(model, fc.array(query, { minLength: 1, maxLength: 20 }), (generated, queries) => {
        const policy = compilePolicy(toDocument(generated));
        for (const { host, country, at } of queries) {
          expect(actual(policy, host, country, at)).toEqual(referenceDecide(generated, host, country, at));
        }
      }),
      { numRuns: 400 },
    );
  });
});

const change = fc.oneof(
  fc.record({
    type: fc.constant('notify'),
    order: fc.nat(3),
    rules: fc.array(rule, { minLength: 1, maxLength: 2 }),
    day: fc.nat(30),
  }),
  fc.record({ type: fc.constant('lift-host'), order: fc.nat(3), rule, day: fc.nat(30) }),
  fc.record({ type: fc.constant('delete-order'), order: fc.nat(3) }),
  fc.record({
    type: fc.constant('put-order'),
    order: fc.nat(3),
    rules: fc.array(rule, { minLength: 1, maxLength: 3 }),
  }),
);

function toChange(
  generated: Model,
  policy: Policy,
  raw: fc.Arbitrary<unknown> extends never ? never : Record<string, unknown>,
) {
  const ids = policy.orders.map((order) => order.id);
  const id = ids[(raw.order as number) % Math.max(1, ids.length)] ?? 'o1';
  const at = iso(Date.parse('2025-04-01T00:00:00Z') + (raw.day as number) * 86_400_000);
  const hosts = ((raw.rules as Rule[] | undefined) ?? []).map((r) =>
    r.kind === 'subtree' ? { host: r.name, includeSubdomains: true } : patternOf(r),
  );
  switch (raw.type) {
    case 'notify':
      return { type: 'notify', orderId: id, hosts, notifiedBy: 'ARCOM', reference: 'n', at } as PolicyChange;
    case 'lift-host':
      return {
        type: 'lift-host',
        orderId: id,
        host: patternOf(raw.rule as Rule),
        liftedBy: 'court',
        at,
      } as PolicyChange;
    case 'delete-order':
      return { type: 'delete-order', orderId: id } as PolicyChange;
    default: {
      const base = toDocument(generated).orders[0];
      return { type: 'put-order', order: { ...base, id, hosts } } as PolicyChange;
    }
  }
}

describe('apply() against recompiling', () => {
  it('a chain of changes decides as the compiled document of its result, compacted or not', () => {
    fc.assert(
      fc.property(
        model,
        fc.array(change, { maxLength: 12 }),
        fc.array(query, { minLength: 1, maxLength: 10 }),
        (generated, changes, queries) => {
          let policy = compilePolicy(toDocument(generated), { compaction: 'manual' });
          for (const raw of changes) {
            try {
              policy = policy.apply(toChange(generated, policy, raw));
            } catch {
              // Invalid changes (lifting what is not blocked, out-of-order dates...) leave the policy as it was.
            }
          }
          const recompiled = compilePolicy(policy.toDocument());
          const compacted = policy.compact();
          expect(recompiled.hostCount).toBe(policy.hostCount);
          for (const { host, country, at } of queries) {
            const expected = actual(recompiled, host, country, at);
            expect(actual(policy, host, country, at)).toEqual(expected);
            expect(actual(compacted, host, country, at)).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
