import type { PolicyDocument } from '../src/index.js';

/** A deterministic pseudo-random generator (mulberry32), so every run measures the same data. */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TLDS = ['com', 'me', 'lat', 'net', 'tv', 'live', 'xyz', 'to', 'io', 'fr'];
const WORDS = [
  'stream',
  'live',
  'sport',
  'moto',
  'foot',
  'tv',
  'watch',
  'hd',
  'free',
  'direct',
  'play',
  'replay',
];

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)] as T;
}

/** A plausible pirate-streaming name, unique by `index`: `motolivehd4821.me`. */
export function siteName(random: () => number, index: number): string {
  return `${pick(random, WORDS)}${pick(random, WORDS)}${index.toString(36)}.${pick(random, TLDS)}`;
}

export type SyntheticPolicy = {
  document: PolicyDocument;
  exact: string[];
  subtreeBases: string[];
  wildcardBases: string[];
};

/**
 * `hostCount` hosts over 10 orders (FR-ALL, the season as window): 80% exact names (a tenth of them
 * three-label names), 10% `*.` wildcards, 10% include-subdomains names, as orders and notifications list them.
 */
export function syntheticPolicy(hostCount: number, seed = 451): SyntheticPolicy {
  const random = randomSource(seed);
  const exact: string[] = [];
  const subtreeBases: string[] = [];
  const wildcardBases: string[] = [];
  const orders = Array.from({ length: 10 }, (_, index) => ({
    id: `order-${index}`,
    authority: 'Tribunal judiciaire de Paris',
    reference: `RG 25/${10_000 + index}`,
    countries: ['FR-ALL'],
    from: '2025-03-28T00:00:00+01:00',
    until: '2035-11-17T00:00:00+01:00',
    hosts: [] as PolicyDocument['orders'][number]['hosts'],
  }));
  for (let index = 0; index < hostCount; index++) {
    const name = siteName(random, index);
    const order = orders[index % orders.length] as (typeof orders)[number];
    const roll = random();
    if (roll < 0.8) {
      // One exact host in ten is a subdomain (`live.`...), as orders list such names too.
      const host = roll < 0.08 ? `live.${name}` : name;
      exact.push(host);
      order.hosts.push(host);
    } else if (roll < 0.9) {
      wildcardBases.push(name);
      order.hosts.push(`*.${name}`);
    } else {
      subtreeBases.push(name);
      order.hosts.push({ host: name, includeSubdomains: true });
    }
  }
  // Flat strings, as a JSON or YAML parser makes them (template literals make rope strings).
  return flat({ document: { orders }, exact, subtreeBases, wildcardBases });
}

export type Query = { host: string; country: string | null; at?: number };

/**
 * A realistic query mix: 35% exact hits (some with a port, as Host headers carry), 10% subdomains of
 * wildcard hosts (2–4 labels deep), 5% include-subdomains hits, 50% misses (popular-site-like names,
 * some deep). Countries: 60% FR, 30% US, 10% unknown.
 */
export function queryMix(policy: SyntheticPolicy, count: number, seed = 7): Query[] {
  const random = randomSource(seed);
  const queries: Query[] = [];
  for (let index = 0; index < count; index++) {
    const roll = random();
    let host: string;
    if (roll < 0.35) host = pick(random, policy.exact) + (random() < 0.2 ? ':443' : '');
    else if (roll < 0.45) host = `${deepPrefix(random)}${pick(random, policy.wildcardBases)}`;
    else if (roll < 0.5) host = `${random() < 0.5 ? '' : 'www.'}${pick(random, policy.subtreeBases)}`;
    else host = `${random() < 0.5 ? 'www.' : deepPrefix(random)}${siteName(random, 10_000_000 + index)}`;
    const countryRoll = random();
    queries.push({ host, country: countryRoll < 0.6 ? 'FR' : countryRoll < 0.9 ? 'US' : null });
  }
  // Flat strings, as Node's HTTP parser makes Host values (template literals make rope strings).
  return flat(queries);
}

function flat<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function deepPrefix(random: () => number): string {
  const depth = 1 + Math.floor(random() * 3);
  let prefix = '';
  for (let level = 0; level < depth; level++)
    prefix += `${pick(random, ['cdn', 'edge', 'hls', 'www', 'a1', 'live'])}.`;
  return prefix;
}
