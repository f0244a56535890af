import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import type { OrderDocument } from './document.js';

const order = (id: string, fields: Partial<OrderDocument> = {}): OrderDocument => ({
  id,
  authority: 'Tribunal judiciaire de Paris',
  reference: `RG ${id}`,
  countries: ['FR'],
  hosts: ['example.com'],
  ...fields,
});

const policyOf = (...orders: OrderDocument[]) => compilePolicy({ orders });
const summary = (decision: ReturnType<ReturnType<typeof policyOf>['decide']>) => ({
  blocked: decision.blocked,
  reason: decision.reason,
  order: decision.order?.id,
  matchedHost: decision.matchedHost,
  match: decision.match,
});

describe('decide: how hosts match (DECISIONS #2)', () => {
  const policy = policyOf(
    order('exact', { hosts: ['exact.example'] }),
    order('wildcard', { hosts: ['*.wild.example'] }),
    order('subtree', { hosts: [{ host: 'tree.example', includeSubdomains: true }] }),
    order('default-subtree', { hosts: ['all.example', '*.star.example'], includeSubdomains: true }),
  );
  const blocked = (host: string) => policy.decide({ host, country: 'FR' }).blocked;

  it('a plain host matches only itself', () => {
    expect(blocked('exact.example')).toBe(true);
    expect(blocked('www.exact.example')).toBe(false);
    expect(blocked('xexact.example')).toBe(false);
  });

  it('a wildcard matches subdomains at any depth but not the name itself', () => {
    expect(blocked('a.wild.example')).toBe(true);
    expect(blocked('a.b.c.wild.example')).toBe(true);
    expect(blocked('wild.example')).toBe(false);
    expect(blocked('notwild.example')).toBe(false);
  });

  it('includeSubdomains matches the name and every subdomain, per host or as the order default', () => {
    expect(blocked('tree.example')).toBe(true);
    expect(blocked('a.b.tree.example')).toBe(true);
    expect(blocked('all.example')).toBe(true);
    expect(blocked('x.all.example')).toBe(true);
    expect(blocked('star.example')).toBe(false);
    expect(blocked('x.star.example')).toBe(true);
  });

  it('matches names of 31 labels and more, the most a name of 253 octets can have', () => {
    // decide() skips suffixes by label count, with one bit for "31 or more": past it, every suffix counts.
    const deep = `${'a.'.repeat(40)}deep.example`;
    const deepest = `${'b.'.repeat(120)}x.example`;
    const long = policyOf(
      order('deep', { hosts: [deep] }),
      order('deepest', { hosts: [`*.${'b.'.repeat(115)}x.example`] }),
    );
    expect(long.decide({ host: deep, country: 'FR' }).blocked).toBe(true);
    expect(long.decide({ host: `c.${deep}`, country: 'FR' }).blocked).toBe(false);
    expect(long.decide({ host: deepest, country: 'FR' })).toMatchObject({ blocked: true, match: 'wildcard' });
    expect(long.decide({ host: deepest.toUpperCase(), country: 'FR' }).blocked).toBe(true);
  });

  it('normalises the host it is given (DECISIONS #1)', () => {
    expect(summary(policy.decide({ host: 'EXACT.Example.:443', country: 'fr' }))).toEqual({
      blocked: true,
      reason: 'order-match',
      order: 'exact',
      matchedHost: 'exact.example',
      match: 'exact',
    });
    expect(policy.decide({ host: 'Ａ.wild.example', country: 'FR' })).toMatchObject({
      blocked: true,
      host: 'a.wild.example',
    });
  });

  it('matches a Unicode order host with its xn-- form and back', () => {
    const unicode = policyOf(order('idn', { hosts: ['bücher.example', 'xn--caf-dma.example'] }));
    expect(unicode.decide({ host: 'xn--bcher-kva.example', country: 'FR' }).blocked).toBe(true);
    expect(unicode.decide({ host: 'BÜCHER.example', country: 'FR' }).blocked).toBe(true);
    expect(unicode.decide({ host: 'café.example', country: 'FR' }).blocked).toBe(true);
  });

  it('never blocks an IP literal, and says so', () => {
    expect(policy.decide({ host: '127.0.0.1:8080', country: 'FR' })).toEqual({
      blocked: false,
      reason: 'ip-literal',
      host: '127.0.0.1',
    });
    expect(policy.decide({ host: '[::1]', country: 'FR' }).reason).toBe('ip-literal');
  });

  it('answers "not blocked, invalid host" for a name it cannot normalise, and never throws', () => {
    for (const host of ['exact.example/x', 'user@exact.example', 'exact..example', '', ' exact.example']) {
      expect(policy.decide({ host, country: 'FR' })).toEqual({ blocked: false, reason: 'invalid-host' });
    }
    const hostile = [undefined, null, 42, {}, { host: 42 }, { host: 'x'.repeat(100_000) }];
    for (const query of hostile) {
      expect(policy.decide(query as never)).toMatchObject({ blocked: false, reason: 'invalid-host' });
    }
  });

  it('cannot be bypassed by the usual spellings of a blocked name', () => {
    const motogp = policyOf(order('motogp', { hosts: ['motogpstream.me'] }));
    const spellings = [
      'motogpstream.me',
      'MotoGPStream.ME',
      'motogpstream.me.',
      'motogpstream.me:443',
      'motogpstream.me.:80',
      'ｍｏｔｏｇｐｓｔｒｅａｍ．ｍｅ',
      'motogpstream。me',
      'moto\u00adgpstream.me',
    ];
    for (const host of spellings) expect(motogp.decide({ host, country: 'FR' }).blocked, host).toBe(true);
  });
});

describe('decide: time windows (DECISIONS #3)', () => {
  const policy = policyOf(
    order('season', { from: '2025-03-28T00:00:00+01:00', until: '2025-11-17T00:00:00Z' }),
  );
  const at = (instant: string | number | Date) =>
    policy.decide({ host: 'example.com', country: 'FR', at: instant as never });

  it('blocks from `from` inclusive until `until` exclusive', () => {
    expect(at(Date.parse('2025-03-27T22:59:59.999Z')).reason).toBe('outside-window');
    expect(at(Date.parse('2025-03-27T23:00:00.000Z')).reason).toBe('order-match');
    expect(at(new Date('2025-11-16T23:59:59.999Z')).reason).toBe('order-match');
    expect(at(new Date('2025-11-17T00:00:00.000Z'))).toMatchObject({
      blocked: false,
      reason: 'outside-window',
      order: { id: 'season' },
    });
  });

  it('uses now when `at` is missing or not a valid instant', () => {
    expect(policy.decide({ host: 'example.com', country: 'FR' }).reason).toBe('outside-window');
    expect(at(Number.NaN).reason).toBe('outside-window');
    expect(at(new Date('garbage')).reason).toBe('outside-window');
    const open = policyOf(order('open', { from: '2020-01-01T00:00:00Z' }));
    expect(open.decide({ host: 'example.com', country: 'FR' }).blocked).toBe(true);
  });
});

describe('decide: countries (DECISIONS #4)', () => {
  it('blocks only the countries of the order, case-insensitively, groups expanded', () => {
    const policy = compilePolicy({
      countryGroups: { benelux: ['be', 'NL', 'lu'] },
      orders: [
        order('fr', { countries: ['FR-ALL'], hosts: ['fr.example'] }),
        order('bx', { countries: ['Benelux'], hosts: ['bx.example'] }),
      ],
    });
    expect(policy.decide({ host: 'fr.example', country: 'GP' }).blocked).toBe(true);
    expect(policy.decide({ host: 'fr.example', country: 'nc' }).blocked).toBe(true);
    expect(policy.decide({ host: 'fr.example', country: 'BE' })).toMatchObject({
      blocked: false,
      reason: 'country-not-covered',
      order: { id: 'fr' },
    });
    expect(policy.decide({ host: 'bx.example', country: 'nl' }).blocked).toBe(true);
    expect(policy.orders[1]?.countryCodes).toEqual(['BE', 'LU', 'NL']);
  });

  it('allows an unknown country by default', () => {
    const policy = policyOf(order('fr'));
    for (const country of [undefined, null, '']) {
      expect(policy.decide({ host: 'example.com', country })).toMatchObject({
        blocked: false,
        reason: 'unknown-country-allowed',
        order: { id: 'fr' },
      });
    }
  });

  it('with unknownCountry: block, blocks an unknown country for hosts under an active order only', () => {
    const policy = compilePolicy({
      unknownCountry: 'block',
      orders: [order('fr', { until: '2030-01-01T00:00:00Z' })],
    });
    expect(policy.unknownCountry).toBe('block');
    expect(
      policy.decide({ host: 'example.com', country: null, at: Date.parse('2029-01-01T00:00:00Z') }),
    ).toMatchObject({
      blocked: true,
      reason: 'unknown-country-blocked',
    });
    expect(policy.decide({ host: 'other.example', country: null }).reason).toBe('no-order');
    expect(
      policy.decide({ host: 'example.com', country: null, at: Date.parse('2031-01-01T00:00:00Z') }).reason,
    ).toBe('outside-window');
    expect(
      policy.decide({ host: 'example.com', country: 'DE', at: Date.parse('2029-01-01T00:00:00Z') }).blocked,
    ).toBe(false);
  });

  it('lets the compile option override the document setting', () => {
    const policy = compilePolicy(
      { unknownCountry: 'block', orders: [order('fr')] },
      { unknownCountry: 'allow' },
    );
    expect(policy.decide({ host: 'example.com' }).blocked).toBe(false);
    expect(policy.toDocument().unknownCountry).toBe('allow');
  });
});

describe('decide: precedence among matching active orders (DECISIONS #5)', () => {
  const decideWith =
    (...orders: OrderDocument[]) =>
    (host: string, country = 'FR') =>
      summary(policyOf(...orders).decide({ host, country, at: Date.parse('2026-01-01T00:00:00Z') }));

  it('prefers exact over includeSubdomains over wildcard', () => {
    const decideFor = decideWith(
      order('c-wildcard', { hosts: ['*.a.example'] }),
      order('b-subtree', { hosts: [{ host: 'www.a.example', includeSubdomains: true }] }),
      order('a-exact', { hosts: ['www.a.example'] }),
    );
    expect(decideFor('www.a.example')).toMatchObject({ order: 'a-exact', match: 'exact' });
    expect(decideFor('x.www.a.example')).toMatchObject({
      order: 'b-subtree',
      matchedHost: 'www.a.example',
      match: 'include-subdomains',
    });
    expect(decideFor('x.a.example')).toMatchObject({
      order: 'c-wildcard',
      matchedHost: '*.a.example',
      match: 'wildcard',
    });
  });

  it('prefers the match kind over the length of the matched name', () => {
    const decideFor = decideWith(
      order('long-wildcard', { hosts: ['*.deep.a.example'] }),
      order('short-subtree', { hosts: [{ host: 'a.example', includeSubdomains: true }] }),
    );
    expect(decideFor('x.deep.a.example')).toMatchObject({ order: 'short-subtree', matchedHost: 'a.example' });
  });

  it('then prefers the longer matched name', () => {
    const decideFor = decideWith(
      order('short', { hosts: ['*.a.example'] }),
      order('long', { hosts: ['*.b.a.example'] }),
    );
    expect(decideFor('x.b.a.example')).toMatchObject({ order: 'long', matchedHost: '*.b.a.example' });
  });

  it('then the earliest from, then the smallest id', () => {
    expect(
      decideWith(
        order('z-early', { from: '2024-01-01T00:00:00Z' }),
        order('a-late', { from: '2025-01-01T00:00:00Z' }),
      )('example.com'),
    ).toMatchObject({ order: 'z-early' });
    expect(
      decideWith(order('z-open'), order('a-dated', { from: '2024-01-01T00:00:00Z' }))('example.com'),
    ).toMatchObject({
      order: 'z-open',
    });
    expect(decideWith(order('b'), order('a'), order('c'))('example.com')).toMatchObject({ order: 'a' });
  });

  it('names the blocking order even when a more specific order does not cover the country', () => {
    const decideFor = decideWith(
      order('de-exact', { countries: ['DE'], hosts: ['www.a.example'] }),
      order('fr-wildcard', { hosts: ['*.a.example'] }),
    );
    expect(decideFor('www.a.example', 'FR')).toMatchObject({ blocked: true, order: 'fr-wildcard' });
    expect(decideFor('www.a.example', 'DE')).toMatchObject({ blocked: true, order: 'de-exact' });
    expect(decideFor('www.a.example', 'US')).toMatchObject({
      blocked: false,
      reason: 'country-not-covered',
      order: 'de-exact',
    });
  });

  it('ignores orders outside their window when an active one matches', () => {
    const decideFor = decideWith(
      order('expired-exact', { until: '2025-01-01T00:00:00Z', hosts: ['www.a.example'] }),
      order('active-wildcard', { hosts: ['*.a.example'] }),
    );
    expect(decideFor('www.a.example')).toMatchObject({ blocked: true, order: 'active-wildcard' });
  });
});

describe('decide: what it reports', () => {
  it('says no-order with the normalised host when nothing names it', () => {
    expect(policyOf(order('x')).decide({ host: 'Other.Example:80', country: 'FR' })).toEqual({
      blocked: false,
      reason: 'no-order',
      host: 'other.example',
    });
  });

  it('gives an order object with its metadata and effective hosts, which serialises without the host list', () => {
    const policy = policyOf(
      order('fr', { url: 'https://www.example.org/decision.pdf', hosts: ['example.com', '*.example.net'] }),
    );
    const matched = policy.decide({ host: 'example.com', country: 'FR' }).order;
    expect(matched).toMatchObject({
      id: 'fr',
      authority: 'Tribunal judiciaire de Paris',
      reference: 'RG fr',
      url: 'https://www.example.org/decision.pdf',
      purgeCache: true,
      hostCount: 2,
    });
    expect(matched?.hosts).toEqual([
      { host: 'example.com', includeSubdomains: false, source: 'order' },
      { host: '*.example.net', includeSubdomains: false, source: 'order' },
    ]);
    expect(JSON.parse(JSON.stringify(matched))).not.toHaveProperty('hosts');
  });
});
