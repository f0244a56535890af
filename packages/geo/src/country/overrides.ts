import { configError } from '../errors.js';
import { parseCidr } from '../ip/cidr.js';
import { PrefixTrie } from '../ip/prefix-trie.js';
import { type CountryLookup, toCountryCode } from './country-lookup.js';

/** A static answer for a network, consulted before the database. */
export interface CountryOverride {
  /** A network (`10.0.0.0/8`, `2001:db8::/32`) or a single address. */
  cidr: string;
  /** ISO 3166-1 alpha-2, any case. */
  country: string;
}

/**
 * Validates overrides and compiles them into a longest-prefix trie of frozen answers, or null when
 * there are none (so the lookup path skips them entirely). The most specific network wins, so
 * `10.0.0.0/8 → FR` with `10.1.0.0/16 → DE` answers DE for 10.1.2.3. Throws one `GeoError`
 * `GEO_CONFIG_INVALID` listing every bad entry by index; the same network twice is an error.
 */
export function compileOverrides(overrides: unknown): PrefixTrie<CountryLookup> | null {
  if (overrides === undefined) return null;
  if (!Array.isArray(overrides))
    throw configError('overrides', ['overrides must be an array of { cidr, country }']);
  const trie = new PrefixTrie<CountryLookup>();
  const firstIndexByNetwork = new Map<string, number>();
  const issues: string[] = [];
  overrides.forEach((entry: unknown, index) => {
    const { cidr, country } = (entry ?? {}) as Partial<CountryOverride>;
    const where = `overrides[${index}] (${JSON.stringify(entry)})`;
    const network = parseCidr(cidr as string);
    const code = toCountryCode(country);
    if (typeof network === 'string') issues.push(`${where}: cidr ${network}`);
    if (code === null) issues.push(`${where}: country must be a two-letter ISO 3166-1 code`);
    if (typeof network === 'string' || code === null) return;
    const first = firstIndexByNetwork.get(network.text);
    if (first !== undefined) {
      issues.push(`${where}: network ${network.text} is already overridden by overrides[${first}]`);
      return;
    }
    firstIndexByNetwork.set(network.text, index);
    trie.insert(network, Object.freeze({ country: code, source: 'override' }));
  });
  if (issues.length > 0) throw configError('overrides', issues);
  return trie.size === 0 ? null : trie;
}
