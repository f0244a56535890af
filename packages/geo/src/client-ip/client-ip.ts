import { configError } from '../errors.js';
import { formatIp, normalizeIp } from '../ip/normalize-ip.js';
import { ParsedIp, parseIpInto } from '../ip/parse-ip.js';
import { appendForwardedFor, appendXForwardedFor } from './forwarding-headers.js';
import { parseHopAddress } from './hop-address.js';
import { compileTrustedProxies, isTrusted, type TrustedProxies } from './trusted-proxies.js';

/** Where the client address is read from. Anything but `socket` is believed only from trusted proxies. */
export type ClientIpSource = 'socket' | 'x-forwarded-for' | 'forwarded' | 'proxy-protocol';

/** Configuration of {@link createClientIpResolver}. */
export type ClientIpConfig = {
  /** Networks of our own proxies / load balancers (CIDRs or bare addresses, IPv4 or IPv6). */
  trustedProxies: string[];
  source: ClientIpSource;
};

/**
 * Who the client is. `ip` is normalised (IPv4-mapped IPv6 → dotted IPv4; IPv6 RFC 5952 lower
 * case, no brackets, no zone). `from` says which input gave it (`socket` also when forwarding
 * information was ignored or unusable). `malformed` is set when forwarding information from a
 * trusted peer could not be used and the peer address was taken instead: count it.
 */
export type ClientIpResult = {
  ip: string;
  from: ClientIpSource;
  malformed?: boolean;
  /** Whether the socket peer is inside `trustedProxies`. */
  peerTrusted: boolean;
  /** The socket peer, normalised like `ip` (as given when it is no address), for the hop the edge adds to X-Forwarded-For. */
  peerIp: string;
};

/** What the edge knows about a request when it asks who the client is. */
export type ClientIpInput = {
  /** `socket.remoteAddress` (may be `::ffff:1.2.3.4`). */
  peerAddress: string;
  /** `req.rawHeaders`, so that repeated header lines are combined in order. */
  rawHeaders: readonly string[];
  /** Source address from a PROXY protocol header read off this connection, if any. */
  proxyProtocolAddress?: string;
};

/**
 * Resolves the client of one request; never throws. A result may be shared by requests with the same peer
 * and forwarding line (it is frozen). `isTrustedPeer` answers for any address.
 */
export type ClientIpResolver = ((input: ClientIpInput) => ClientIpResult) & {
  isTrustedPeer(address: string): boolean;
};

/**
 * Builds the one function that decides who the client is. Validates `config` once (throws
 * `GeoError` `GEO_CONFIG_INVALID` listing every problem). Rules, in order:
 * - The socket peer is the client unless it is inside `trustedProxies`; headers and PROXY data
 *   from any other peer are ignored entirely (anyone can write them).
 * - `x-forwarded-for` / `forwarded`: all lines of the header, combined in order, are walked right
 *   to left, skipping trusted hops; the first untrusted address is the client; if every hop is
 *   trusted, the leftmost one is. An entry that is `unknown`, obfuscated or garbage stops the
 *   walk: the peer address is used and `malformed` set. No header: the peer is the client.
 * - `proxy-protocol`: the address the PROXY header carried (peer trusted), else the peer.
 * Getting this wrong lets a client choose its country and walk around a blocking order.
 */
export function createClientIpResolver(config: ClientIpConfig): ClientIpResolver {
  const { trustedProxies, source } = config ?? ({} as ClientIpConfig);
  const issues: string[] = [];
  const trusted = compileTrustedProxies(trustedProxies, issues);
  if (!['socket', 'x-forwarded-for', 'forwarded', 'proxy-protocol'].includes(source)) {
    issues.push(
      `source must be 'socket', 'x-forwarded-for', 'forwarded' or 'proxy-protocol', not ${JSON.stringify(source)}`,
    );
  } else if (source !== 'socket' && trusted.size === 0) {
    issues.push(`source '${source}' is only believed from trustedProxies, which is empty: list your proxies`);
  }
  if (issues.length > 0) throw configError('client IP configuration', issues);

  const peer = new ParsedIp();
  const hop = new ParsedIp();
  // An edge behind load balancers gets nearly every request from one of a few peers, over long-lived
  // connections: the last peer's parse, trust check and formatting are kept for the next request from it.
  const lastPeer: { address: string | null; ip: string; trusted: boolean } = {
    address: null,
    ip: '',
    trusted: false,
  };
  // Each trusted peer sends the same few forwarding lines again and again (its clients, or one client per
  // connection): the last peer's walks are kept by line, bounded, so a client inventing lines costs a
  // walk each, never memory. The results are frozen: every request with that line gets the same object.
  const walked = { peerIp: '', results: new Map<string, ClientIpResult>() };
  const resolve = (input: ClientIpInput): ClientIpResult => {
    const { peerAddress } = input;
    if (peerAddress !== lastPeer.address) {
      if (typeof peerAddress !== 'string' || parseIpInto(peerAddress, peer) === 0) {
        // A closed socket reports no address; nothing to locate, and nothing to trust.
        const given = typeof peerAddress === 'string' ? peerAddress : '';
        return { ip: given, from: 'socket', malformed: true, peerTrusted: false, peerIp: given };
      }
      lastPeer.ip = formatIp(peer);
      lastPeer.trusted = trusted.match(peer) === true;
      lastPeer.address = peerAddress;
    }
    const { ip: peerIp, trusted: peerTrusted } = lastPeer;
    if (source === 'socket' || !peerTrusted) return { ip: peerIp, from: 'socket', peerTrusted, peerIp };
    if (source === 'proxy-protocol') return fromProxyProtocol(input.proxyProtocolAddress, peerIp, hop);
    const line = onlyLine(input.rawHeaders, source);
    if (line === undefined || line.length > MAX_WALKED_LINE) {
      return walkChain(collectHops(input.rawHeaders, source), source, peerIp, trusted, hop);
    }
    // The walk of one header line is a function of the line and the peer: kept for the peer last seen.
    if (walked.peerIp !== peerIp) {
      walked.peerIp = peerIp;
      walked.results.clear();
    }
    let result = walked.results.get(line);
    if (result === undefined) {
      const hops: (string | null)[] = [];
      if (source === 'forwarded') appendForwardedFor(line, hops);
      else appendXForwardedFor(line, hops);
      result = Object.freeze(walkChain(hops, source, peerIp, trusted, hop));
      if (walked.results.size >= MAX_WALKED_LINES) walked.results.clear();
      walked.results.set(line, result);
    }
    return result;
  };
  const resolver = (input: ClientIpInput): ClientIpResult => {
    try {
      return resolve(input);
    } catch {
      // Only reachable with inputs of the wrong type (e.g. rawHeaders missing): trust nothing.
      const peerIp = normalizeIp(input?.peerAddress) ?? '';
      return { ip: peerIp, from: 'socket', malformed: true, peerTrusted: false, peerIp };
    }
  };
  const check = new ParsedIp();
  return Object.assign(resolver, {
    isTrustedPeer: (address: string) => typeof address === 'string' && isTrusted(trusted, address, check),
  });
}

function fromProxyProtocol(address: string | undefined, peerIp: string, hop: ParsedIp): ClientIpResult {
  if (address === undefined) return { ip: peerIp, from: 'socket', peerTrusted: true, peerIp };
  if (typeof address !== 'string' || parseIpInto(address, hop) === 0) {
    return { ip: peerIp, from: 'socket', malformed: true, peerTrusted: true, peerIp };
  }
  return { ip: formatIp(hop), from: 'proxy-protocol', peerTrusted: true, peerIp };
}

/** Lines of one peer's walks kept (then started over), and the longest line kept. */
const MAX_WALKED_LINES = 1024;
const MAX_WALKED_LINE = 256;

/**
 * The value of the source header when it has exactly one line; undefined when it has none or several
 * (several lines are one list, walked as such without the memo).
 */
function onlyLine(
  rawHeaders: readonly string[],
  source: 'x-forwarded-for' | 'forwarded',
): string | undefined {
  let line: string | undefined;
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] as string;
    if (name.length !== source.length || name.toLowerCase() !== source) continue;
    if (line !== undefined) return undefined;
    line = rawHeaders[index + 1] as string;
  }
  return line;
}

/** Every entry of every line of the source header, left to right (null: an unidentifiable hop). */
function collectHops(
  rawHeaders: readonly string[],
  source: 'x-forwarded-for' | 'forwarded',
): (string | null)[] {
  const hops: (string | null)[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] as string;
    if (name.length !== source.length || name.toLowerCase() !== source) continue;
    const value = rawHeaders[index + 1] as string;
    if (source === 'forwarded') appendForwardedFor(value, hops);
    else appendXForwardedFor(value, hops);
  }
  return hops;
}

function walkChain(
  hops: readonly (string | null)[],
  source: 'x-forwarded-for' | 'forwarded',
  peerIp: string,
  trusted: TrustedProxies,
  hop: ParsedIp,
): ClientIpResult {
  if (hops.length === 0) return { ip: peerIp, from: 'socket', peerTrusted: true, peerIp };
  for (let index = hops.length - 1; index >= 0; index--) {
    const entry = hops[index];
    if (entry === null || entry === undefined || !parseHopAddress(entry, source, hop)) {
      return { ip: peerIp, from: 'socket', malformed: true, peerTrusted: true, peerIp };
    }
    if (trusted.match(hop) !== true) break;
  }
  // Either the first untrusted hop from the right, or (all trusted) the leftmost one.
  return { ip: formatIp(hop), from: source, peerTrusted: true, peerIp };
}
