/**
 * Client addresses by country, from the ranges of MaxMind's GeoIP2-Country-Test database
 * (fixtures/geoip/GeoIP2-Country-Test.json). Many distinct addresses matter: single-IP load keeps every
 * geo cache warm and hides the lookup's real cost.
 */
const ipv4Ranges: Record<string, { base: number; size: number }> = {
  US: { base: ipv4('74.209.24.0'), size: 4096 },
  PH: { base: ipv4('202.196.224.0'), size: 4096 },
  SE: { base: ipv4('89.160.20.128'), size: 128 },
  CN: { base: ipv4('175.16.199.0'), size: 256 },
  BT: { base: ipv4('67.43.156.0'), size: 256 },
  GB: { base: ipv4('81.2.69.160'), size: 32 },
};
// IPv6 /29 prefixes: the first 32 bits, the rest of the address is the index.
const ipv6Prefixes: Record<string, string> = {
  FR: '2a02:cfc0',
  DE: '2a02:d180',
  IT: '2a02:d1c0',
  ES: '2a02:d5c0',
  GB6: '2a02:d3c0',
};

/** Countries the benchmark orders block (FR by IPv6, GB by both families). */
export const blockedCountries = ['FR', 'GB'] as const;

/** The n-th test address of a pool: a key of the ranges above, or `unknown` (private, no country). */
export function clientAddress(pool: string, n: number): string {
  const v4 = ipv4Ranges[pool];
  if (v4 !== undefined) return formatIpv4(v4.base + (n % v4.size));
  const v6 = ipv6Prefixes[pool];
  if (v6 !== undefined) return `${v6}:${(n >>> 16) & 0xffff}::${(n & 0xffff).toString(16)}`;
  if (pool === 'unknown') return formatIpv4(ipv4('10.0.0.0') + (n % 16_777_216));
  throw new Error(`no test addresses for ${pool}`);
}

/** Pools whose clients are never blocked by the benchmark orders. */
export const allowedPools = ['US', 'PH', 'SE', 'CN', 'BT', 'DE', 'IT', 'ES', 'unknown'] as const;
/** Pools whose clients the benchmark orders block. */
export const blockedPools = ['GB', 'FR', 'GB6'] as const;

function ipv4(text: string): number {
  return text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
