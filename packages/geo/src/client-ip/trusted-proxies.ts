import { configError } from '../errors.js';
import { parseCidr } from '../ip/cidr.js';
import { ParsedIp, parseIpInto } from '../ip/parse-ip.js';
import { PrefixTrie } from '../ip/prefix-trie.js';

/** The set of networks whose forwarding information is believed. */
export type TrustedProxies = PrefixTrie<true>;

/**
 * Compiles `trustedProxies` (CIDRs or bare addresses, IPv4 or IPv6; IPv4-mapped IPv6 networks
 * count as the IPv4 networks they map). Appends a message to `issues` for each bad entry, by
 * index. A `/0` is refused: trusting every address lets any client choose its own country.
 */
export function compileTrustedProxies(trustedProxies: unknown, issues: string[]): TrustedProxies {
  const trie = new PrefixTrie<true>();
  if (!Array.isArray(trustedProxies)) {
    issues.push('trustedProxies must be an array of CIDR strings');
    return trie;
  }
  trustedProxies.forEach((entry: unknown, index) => {
    const network = parseCidr(entry as string);
    const where = `trustedProxies[${index}] (${JSON.stringify(entry)})`;
    if (typeof network === 'string') issues.push(`${where}: ${network}`);
    else if (network.prefixLength === 0) {
      issues.push(`${where}: trusts every address, so any client could spoof its address and country`);
    } else trie.insert(network, true);
  });
  return trie;
}

/**
 * Returns a predicate "is this peer address one of our proxies?" over a validated list (throws
 * `GeoError` `GEO_CONFIG_INVALID` listing every bad entry). Accepts any spelling Node reports
 * (`::ffff:10.0.0.1` matches `10.0.0.0/8`); false for anything that is not an address. Use it to
 * decide, per connection, whether to read a PROXY protocol header or keep an incoming
 * `X-Forwarded-For` chain (DECISIONS #8).
 */
export function createTrustedPeerCheck(trustedProxies: readonly string[]): (peerAddress: string) => boolean {
  const issues: string[] = [];
  const trie = compileTrustedProxies(trustedProxies, issues);
  if (issues.length > 0) throw configError('trustedProxies', issues);
  const address = new ParsedIp();
  return (peerAddress) => typeof peerAddress === 'string' && isTrusted(trie, peerAddress, address);
}

/** True when `text` parses into `scratch` and lies inside a trusted network. */
export function isTrusted(trie: TrustedProxies, text: string, scratch: ParsedIp): boolean {
  return parseIpInto(text, scratch) !== 0 && trie.match(scratch) === true;
}

const compiledLists = new Map<string, TrustedProxies>();
const peerScratch = new ParsedIp();

/**
 * Whether `peerAddress` is inside `trustedProxies`, for per-connection decisions (read a PROXY
 * header? keep an incoming `X-Forwarded-For` chain?). Never throws: an address that is not one is
 * untrusted, and entries that are not valid networks are never trusted (validate the list at
 * start-up with `createClientIpResolver` or `createTrustedPeerCheck`, which throw on them). The
 * compiled list is cached by content, so calling this per connection costs a join and a walk.
 */
export function isTrustedPeer(peerAddress: string, trustedProxies: readonly string[]): boolean {
  if (typeof peerAddress !== 'string' || !Array.isArray(trustedProxies)) return false;
  const key = trustedProxies.join('\n');
  let trie = compiledLists.get(key);
  if (trie === undefined) {
    // Configurations are few; the bound only guards against a caller building lists per request.
    if (compiledLists.size >= 32) compiledLists.clear();
    trie = compileTrustedProxies(trustedProxies, []);
    compiledLists.set(key, trie);
  }
  return isTrusted(trie, peerAddress, peerScratch);
}
