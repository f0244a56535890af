import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { type CityResponse, Reader } from 'maxmind';
import { describe, expect, onTestFinished, test } from 'vitest';
import { type CountryLookup, GeoError, normalizeIp, openCountryLocator } from '../src/index.js';
import { fixtures, geoipFixture, temporaryDirectory } from './support/fixtures.js';
import { writeMmdb } from './support/write-mmdb.js';

async function open(path: string, overrides?: Array<{ cidr: string; country: string }>) {
  const locator = await openCountryLocator({ path, overrides, watch: false });
  onTestFinished(() => locator.close());
  return locator;
}

const maxmindDatabases = [
  ['GeoIP2-Country-Test', fixtures.country],
  ['GeoIP2-City-Test', fixtures.city],
  ['GeoLite2-Country-Test', fixtures.liteCountry],
] as const;

describe('openCountryLocator on MaxMind test databases', () => {
  const facts = [
    ['2a02:cfc0::1', 'FR'],
    ['81.2.69.160', 'GB'],
    ['216.160.83.56', 'US'],
    // Registered country FR; the client is in GB, and GB is the answer.
    ['2.125.160.216', 'GB'],
  ] as const;

  test.each(
    maxmindDatabases.flatMap(([name, path]) => facts.map(([ip, country]) => [name, ip, country, path])),
  )('%s: %s is %s, from the database country field', async (_name, ip, country, path) => {
    const locator = await open(path);
    expect(locator.lookupCountry(ip)).toEqual({ country, source: 'database', field: 'country' });
  });

  test.each(maxmindDatabases)('%s: IPv4-mapped IPv6 is looked up as IPv4', async (_name, path) => {
    const locator = await open(path);
    expect(locator.lookupCountry('::ffff:81.2.69.160')).toEqual(locator.lookupCountry('81.2.69.160'));
    expect(locator.lookupCountry('::FFFF:5102:45a0').country).toBe('GB');
  });

  test('reports which database answers', async () => {
    const locator = await open(fixtures.city);
    expect(locator.info).toEqual({
      path: fixtures.city,
      databaseType: 'GeoIP2-City',
      buildDate: expect.any(Date),
    });
    expect(locator.info.buildDate.getUTCFullYear()).toBeGreaterThanOrEqual(2020);
  });

  test('an address the database does not cover, or a record without country, is unknown', async () => {
    const locator = await open(fixtures.country);
    expect(locator.lookupCountry('8.8.8.8')).toEqual({ country: null, source: 'unknown' });
    // 214.1.1.0/24 is an anycast record with traits only.
    expect(locator.lookupCountry('214.1.1.1')).toEqual({ country: null, source: 'unknown' });
  });

  test.each([
    '',
    'garbage',
    '81.2.69.160 ',
    '[2a02:cfc0::1]',
    '81.2.69.160:80',
    '999.1.1.1',
    '::ffff:999.0.0.1',
  ])('garbage %j is unknown and never throws', async (text) => {
    const locator = await open(fixtures.country);
    expect(locator.lookupCountry(text)).toEqual({ country: null, source: 'unknown' });
  });

  test('a value that is not a string is unknown, so a closed socket cannot crash a lookup', async () => {
    const { lookupCountry } = await open(fixtures.country);
    expect(lookupCountry(undefined as unknown as string)).toEqual({ country: null, source: 'unknown' });
  });
});

describe('openCountryLocator agrees with the maxmind reader', () => {
  /** What `maxmind` answers, with the documented field rule applied on top. */
  function reference(reader: Reader<never>, ip: string): CountryLookup {
    const record = reader.get(normalizeIp(ip) as string) as Record<
      string,
      { iso_code?: string } & string
    > | null;
    const pick = (value: unknown, field: CountryLookup['field']): CountryLookup | null =>
      typeof value === 'string' && /^[A-Za-z]{2}$/.test(value)
        ? { country: value.toUpperCase(), source: 'database', field }
        : null;
    return (
      pick(record?.country?.iso_code, 'country') ??
      pick(record?.registered_country?.iso_code, 'registered_country') ??
      pick(record?.country_code, 'country_code') ?? { country: null, source: 'unknown' }
    );
  }

  /** Random addresses inside the networks the test databases describe, plus random addresses anywhere. */
  const networks = (
    JSON.parse(readFileSync(geoipFixture('GeoIP2-Country-Test.json'), 'utf8')) as object[]
  ).flatMap(Object.keys);
  const insideNetwork = fc
    .tuple(fc.constantFrom(...networks), fc.array(fc.nat(255), { minLength: 16, maxLength: 16 }))
    .map(([cidr, noise]) => {
      const [network, length] = ipaddr.parseCIDR(cidr);
      const bytes = network.toByteArray().map((byte, index) => {
        const fixedBits = Math.max(0, Math.min(8, length - index * 8));
        const mask = (0xff << (8 - fixedBits)) & 0xff;
        return (byte & mask) | ((noise[index] as number) & ~mask & 0xff);
      });
      return ipaddr.fromByteArray(bytes).toString();
    });
  const address = fc.oneof(
    insideNetwork,
    fc.ipV4(),
    fc.ipV6(),
    fc.ipV4().map((v4) => `::ffff:${v4}`),
  );

  test.each([...maxmindDatabases, ['embedded ip-location-db', fixtures.embedded] as const])(
    '%s: same country as maxmind for random addresses',
    async (_name, path) => {
      const locator = await open(path);
      const reader = new Reader<never>(readFileSync(path));
      fc.assert(
        fc.property(address, (ip) => {
          expect(locator.lookupCountry(ip)).toEqual(reference(reader, ip));
        }),
        { numRuns: 3_000 },
      );
    },
  );
});

describe('openCountryLocator on the embedded database', () => {
  test('loads with no configuration and locates well-known public addresses', async () => {
    const locator = await openCountryLocator({ watch: false });
    onTestFinished(() => locator.close());
    expect(locator.info.path).toBe(fixtures.embedded);
    expect(locator.info.databaseType).toBe('country ipvAll');
    expect(locator.lookupCountry('8.8.8.8')).toEqual({
      country: 'US',
      source: 'database',
      field: 'country_code',
    });
    expect(locator.lookupCountry('2001:4860:4860::8888').country).toBe('US');
  });

  test('answers IPv4-mapped addresses, which this database has no alias for', async () => {
    const locator = await open(fixtures.embedded);
    expect(locator.lookupCountry('90.0.0.1').country).toBe('FR');
    expect(locator.lookupCountry('::ffff:90.0.0.1').country).toBe('FR');
  });
});

describe('openCountryLocator overrides', () => {
  test('apply before the database, most specific network first', async () => {
    const locator = await open(fixtures.country, [
      { cidr: '81.2.69.0/24', country: 'de' },
      { cidr: '81.2.69.160/32', country: 'NL' },
      { cidr: '10.0.0.0/8', country: 'FR' },
      { cidr: '2a02:cfc0::/32', country: 'BE' },
    ]);
    expect(locator.lookupCountry('81.2.69.161')).toEqual({ country: 'DE', source: 'override' });
    expect(locator.lookupCountry('81.2.69.160')).toEqual({ country: 'NL', source: 'override' });
    expect(locator.lookupCountry('::ffff:10.1.2.3')).toEqual({ country: 'FR', source: 'override' });
    expect(locator.lookupCountry('2a02:cfc0::1')).toEqual({ country: 'BE', source: 'override' });
    expect(locator.lookupCountry('216.160.83.56')).toEqual({
      country: 'US',
      source: 'database',
      field: 'country',
    });
  });

  test('bad entries are all reported, by index, and nothing opens', async () => {
    const attempt = openCountryLocator({
      path: fixtures.country,
      watch: false,
      overrides: [
        { cidr: '10.0.0.0/8', country: 'FR' },
        { cidr: '10.0.0.0/33', country: 'FR' },
        { cidr: '192.0.2.0/24', country: 'France' },
        { cidr: '::ffff:10.0.0.0/104', country: 'DE' },
        'nope' as unknown as { cidr: string; country: string },
      ],
    });
    await expect(attempt).rejects.toBeInstanceOf(GeoError);
    await expect(attempt).rejects.toMatchObject({ code: 'GEO_CONFIG_INVALID' });
    await expect(attempt.catch((error: Error) => error.message)).resolves.toMatchInlineSnapshot(`
      "invalid overrides:
        - overrides[1] ({"cidr":"10.0.0.0/33","country":"FR"}): cidr prefix length 33 exceeds 32
        - overrides[2] ({"cidr":"192.0.2.0/24","country":"France"}): country must be a two-letter ISO 3166-1 code
        - overrides[3] ({"cidr":"::ffff:10.0.0.0/104","country":"DE"}): network 10.0.0.0/8 is already overridden by overrides[0]
        - overrides[4] ("nope"): cidr is not a string
        - overrides[4] ("nope"): country must be a two-letter ISO 3166-1 code"
    `);
  });

  test('options of the wrong type are reported together', async () => {
    const attempt = openCountryLocator({ path: '', watch: 'yes' as unknown as boolean, watchDebounceMs: -1 });
    await expect(attempt).rejects.toMatchObject({
      code: 'GEO_CONFIG_INVALID',
      issues: [
        'path must be a non-empty string',
        'watch must be true or false',
        'watchDebounceMs must be a number >= 0',
      ],
    });
  });
});

describe('openCountryLocator refuses unusable databases', () => {
  test.each([
    [fixtures.brokenDouble, 'double of size'],
    [fixtures.invalidNodeCount, 'node_count 100000 needs a 700000-byte search tree'],
    [geoipFixture('README.md'), 'no MaxMind DB metadata marker: not a .mmdb file'],
    [geoipFixture('missing.mmdb'), 'ENOENT'],
  ])('%s', async (path, reason) => {
    const attempt = openCountryLocator({ path, watch: false });
    await expect(attempt).rejects.toMatchObject({ code: 'GEO_DB_INVALID' });
    await expect(attempt).rejects.toThrow(`cannot use geo database ${path}: `);
    await expect(attempt).rejects.toThrow(reason);
  });
});

describe('openCountryLocator schemas (written databases)', () => {
  async function written(records: Parameters<typeof writeMmdb>[0]['records'], nodeCountDelta = 0) {
    const path = join(await temporaryDirectory(), 'written.mmdb');
    await writeFile(path, writeMmdb({ records, nodeCountDelta }));
    return path;
  }

  test('falls back to registered_country only when country is absent', async () => {
    const path = await written([
      ['1.0.0.0/8', { country: { iso_code: 'GB' }, registered_country: { iso_code: 'FR' } }],
      ['2.0.0.0/8', { registered_country: { iso_code: 'FR' }, continent: { code: 'EU' } }],
      ['3.0.0.0/8', { country: { names: { en: 'Nowhere' } }, registered_country: { iso_code: 'DE' } }],
      ['4.0.0.0/8', { country_code: 'nl' }],
      ['5.0.0.0/8', { country_code: 'EU1' }],
    ]);
    const locator = await open(path);
    const reader = new Reader<CityResponse>(readFileSync(path));
    expect(reader.get('2.1.1.1')?.registered_country?.iso_code).toBe('FR');
    expect(locator.lookupCountry('1.1.1.1')).toEqual({ country: 'GB', source: 'database', field: 'country' });
    expect(locator.lookupCountry('2.1.1.1')).toEqual({
      country: 'FR',
      source: 'database',
      field: 'registered_country',
    });
    expect(locator.lookupCountry('3.1.1.1')).toEqual({
      country: 'DE',
      source: 'database',
      field: 'registered_country',
    });
    expect(locator.lookupCountry('4.1.1.1')).toEqual({
      country: 'NL',
      source: 'database',
      field: 'country_code',
    });
    expect(locator.lookupCountry('5.1.1.1')).toEqual({ country: null, source: 'unknown' });
  });

  test('an IPv4-only database answers IPv4 and mapped addresses, and IPv6 as unknown', async () => {
    const locator = await open(await written([['90.0.0.0/8', { country_code: 'FR' }]]));
    expect(locator.lookupCountry('::ffff:90.1.2.3').country).toBe('FR');
    expect(locator.lookupCountry('2a02:cfc0::1')).toEqual({ country: null, source: 'unknown' });
  });

  test('refuses a file whose node_count does not match its tree', async () => {
    const path = await written([['90.0.0.0/8', { country_code: 'FR' }]], 1);
    await expect(openCountryLocator({ path, watch: false })).rejects.toMatchObject({
      code: 'GEO_DB_INVALID',
    });
  });
});
