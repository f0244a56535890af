/**
 * Throughput of country lookups and client-IP resolution, on one core, with medians of several
 * rounds. Run: `pnpm --filter @edge451/geo bench`. Prints figures, never passes or fails.
 * Baseline, measured in the same run: `maxmind`'s own `Reader.get` on the same database.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import maxmind, { type CountryResponse } from 'maxmind';
import { createClientIpResolver, embeddedDatabasePath, openCountryLocator } from '../src/index.js';

const ROUNDS = 7;
const ADDRESSES = 200_000;

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same mix. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

// Busy IPv6 prefixes of large access networks and clouds, followed by random bits.
const IPV6_PREFIXES = [
  '2a01:cb00',
  '2a01:e0a',
  '2a02:8440',
  '2001:4860',
  '2a00:1450',
  '2600:1700',
  '2607:f8b0',
  '2a03:2880',
];
IPV6_PREFIXES.push(
  '2409:8a00',
  '2405:200',
  '2804:14c',
  '2c0f:f248',
  '240e:3b0',
  '2400:cb00',
  '2a02:cfc0',
  '2003:e0',
);

/** 65% IPv4, 20% IPv6, 15% IPv4-mapped IPv6 (dual-stack sockets), all distinct-ish. */
function addressMix(count: number): string[] {
  const next = random(451);
  const integer = (below: number) => Math.floor(next() * below);
  const v4 = () => {
    let first = 1 + integer(223);
    if (first === 10 || first === 127) first++;
    return `${first}.${integer(256)}.${integer(256)}.${integer(256)}`;
  };
  const group = () => integer(0x10000).toString(16);
  return Array.from({ length: count }, () => {
    const kind = next();
    if (kind < 0.65) return v4();
    if (kind < 0.85)
      return `${IPV6_PREFIXES[integer(IPV6_PREFIXES.length)]}:${group()}:${group()}:${group()}::${group()}`;
    return `::ffff:${v4()}`;
  });
}

/** Median operations per second of `run` (which performs `operations` operations) over ROUNDS rounds. */
function measure(operations: number, run: () => unknown): number {
  const rates: number[] = [];
  run(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    run();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(operations / seconds);
  }
  rates.sort((left, right) => left - right);
  return rates[Math.floor(rates.length / 2)] as number;
}

const rows: Array<{ name: string; opsPerSecond: number }> = [];
let sink = 0;
const record = (name: string, opsPerSecond: number) => rows.push({ name, opsPerSecond });

const addresses = addressMix(ADDRESSES);
const path = embeddedDatabasePath();

// Baseline: maxmind's reader with its default 10,000-entry cache, no input check, no mapping.
const reader = await maxmind.open<CountryResponse>(path);
record(
  'maxmind Reader.get (baseline)',
  measure(ADDRESSES, () => {
    for (const ip of addresses)
      if ((reader.get(ip) as { country_code?: string } | null)?.country_code !== undefined) sink++;
  }),
);

const plain = await openCountryLocator({ path, watch: false });
record(
  'lookupCountry, no overrides',
  measure(ADDRESSES, () => {
    for (const ip of addresses) if (plain.lookupCountry(ip).country !== null) sink++;
  }),
);

const overrides = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fe80::/10']
  .map((cidr) => ({ cidr, country: 'ZZ' }))
  .concat([
    { cidr: '81.2.69.0/24', country: 'GB' },
    { cidr: '2a02:cfc0::/29', country: 'FR' },
  ]);
const withOverrides = await openCountryLocator({ path, watch: false, overrides });
record(
  `lookupCountry, ${overrides.length} overrides`,
  measure(ADDRESSES, () => {
    for (const ip of addresses) if (withOverrides.lookupCountry(ip).country !== null) sink++;
  }),
);

// Known share of answers, to show the mix is realistic (not mostly misses).
const answered = addresses.filter((ip) => plain.lookupCountry(ip).country !== null).length;

const REQUESTS = 100_000;
const peers = addresses.slice(0, REQUESTS);
const trustedProxies = ['10.0.0.0/8', '2001:db8::/32'];
const bySocket = createClientIpResolver({ trustedProxies, source: 'socket' });
const byXff = createClientIpResolver({ trustedProxies, source: 'x-forwarded-for' });
const byForwarded = createClientIpResolver({ trustedProxies, source: 'forwarded' });
const headers = peers.map((ip) => [
  'Host',
  'example.test',
  'X-Forwarded-For',
  `198.51.100.7, ${ip}, 10.0.0.9`,
]);
const forwarded = peers.map((ip) => [
  'Host',
  'example.test',
  'Forwarded',
  `for=198.51.100.7, for="[2001:db8::5]:443"`,
  'Forwarded',
  `for=${ip.includes(':') ? `"[${ip}]"` : ip}`,
]);
record(
  'resolve client IP: socket',
  measure(REQUESTS, () => {
    for (const ip of peers) sink += bySocket({ peerAddress: ip, rawHeaders: [] }).ip.length;
  }),
);
record(
  'resolve client IP: X-Forwarded-For, 3 hops',
  measure(REQUESTS, () => {
    for (let index = 0; index < REQUESTS; index++) {
      sink += byXff({ peerAddress: '::ffff:10.0.0.1', rawHeaders: headers[index] as string[] }).ip.length;
    }
  }),
);
record(
  'resolve client IP: Forwarded, 2 lines',
  measure(REQUESTS, () => {
    for (let index = 0; index < REQUESTS; index++) {
      sink += byForwarded({ peerAddress: '10.0.0.1', rawHeaders: forwarded[index] as string[] }).ip.length;
    }
  }),
);
record(
  'resolve client IP: spoofed XFF, untrusted peer',
  measure(REQUESTS, () => {
    for (let index = 0; index < REQUESTS; index++) {
      sink += byXff({ peerAddress: peers[index] as string, rawHeaders: headers[index] as string[] }).ip
        .length;
    }
  }),
);

// Opening (= a hot reload): read + full verification of the embedded database, and the longest
// event-loop stall it causes (it yields between slices of the tree).
const loadTimes: number[] = [];
const stall = monitorEventLoopDelay({ resolution: 1 });
stall.enable();
for (let round = 0; round < 5; round++) {
  const start = performance.now();
  (await openCountryLocator({ path, watch: false })).close();
  loadTimes.push(performance.now() - start);
}
stall.disable();
loadTimes.sort((left, right) => left - right);

const baseline = rows[0]?.opsPerSecond ?? 1;
console.log(
  `address mix: ${ADDRESSES} addresses (65% IPv4, 20% IPv6, 15% IPv4-mapped), ${((answered / ADDRESSES) * 100).toFixed(1)}% located`,
);
console.log(
  `database: ${plain.info.databaseType}, built ${plain.info.buildDate.toISOString().slice(0, 10)}; medians of ${ROUNDS} rounds\n`,
);
console.log(
  `${'benchmark'.padEnd(48)}${'ops/s'.padStart(12)}${'ns/op'.padStart(8)}${'vs baseline'.padStart(13)}`,
);
for (const { name, opsPerSecond } of rows) {
  const nanoseconds = (1e9 / opsPerSecond).toFixed(0);
  const ratio = `${(opsPerSecond / baseline).toFixed(2)}x`;
  console.log(
    `${name.padEnd(48)}${Math.round(opsPerSecond).toLocaleString('en').padStart(12)}${nanoseconds.padStart(8)}${ratio.padStart(13)}`,
  );
}
console.log(
  `\nopen + verify embedded database: median ${loadTimes[2]?.toFixed(0)} ms; longest event-loop stall ${(stall.max / 1e6).toFixed(1)} ms`,
);
if (sink === -1) console.log('unreachable');
