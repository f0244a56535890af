import { formatIp } from './normalize-ip.js';
import { ParsedIp, parseIpInto } from './parse-ip.js';

/** A network: its version, the address bits (`v4` or `groups`, host bits zero) and the prefix length. */
export interface Cidr {
  readonly version: 4 | 6;
  readonly v4: number;
  readonly groups: Uint16Array;
  readonly prefixLength: number;
  /** Canonical text, e.g. `10.0.0.0/8` or `2001:db8::/32`, for messages. */
  readonly text: string;
}

/**
 * Parses `a.b.c.d/n`, `v6/n`, or a bare address (a /32 or /128). An IPv4-mapped IPv6 network
 * (`::ffff:10.0.0.0/104`) becomes the IPv4 network it maps (`10.0.0.0/8`), because addresses are
 * matched after the same mapping. Returns an error message (never throws) for anything else,
 * including host bits set after the prefix (`10.0.0.1/8`), which usually means a typo.
 */
export function parseCidr(text: string): Cidr | string {
  if (typeof text !== 'string') return 'is not a string';
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  if (addressText.includes('%')) return 'has a zone id (`%...`), which a network cannot have';
  const parsed = new ParsedIp();
  const version = parseIpInto(addressText, parsed);
  if (version === 0) return `'${addressText}' is not an IPv4 or IPv6 address`;
  const mapped = version === 4 && addressText.includes(':');
  const maxLength = version === 4 ? 32 : 128;
  let prefixLength = mapped ? 128 : maxLength;
  if (slash !== -1) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText)) return `prefix length '${lengthText}' is not a number`;
    prefixLength = Number(lengthText);
    if (prefixLength > (mapped ? 128 : maxLength))
      return `prefix length ${prefixLength} exceeds ${maxLength}`;
  }
  if (mapped) {
    if (prefixLength < 96) return 'covers more than the IPv4-mapped range ::ffff:0:0/96';
    prefixLength -= 96;
  }
  const network = maskedCopy(parsed, prefixLength);
  const networkText = `${formatIp(network)}/${prefixLength}`;
  if (!sameBits(parsed, network)) return `has host bits set after the prefix (did you mean ${networkText}?)`;
  return { version, v4: network.v4, groups: network.groups, prefixLength, text: networkText };
}

function maskedCopy(parsed: ParsedIp, prefixLength: number): ParsedIp {
  const copy = new ParsedIp();
  copy.version = parsed.version;
  if (parsed.version === 4) {
    copy.v4 = prefixLength === 0 ? 0 : (parsed.v4 & (0xffffffff << (32 - prefixLength))) >>> 0;
    return copy;
  }
  for (let index = 0; index < 8; index++) {
    const bitsHere = Math.max(0, Math.min(16, prefixLength - index * 16));
    const mask = bitsHere === 0 ? 0 : (0xffff << (16 - bitsHere)) & 0xffff;
    copy.groups[index] = (parsed.groups[index] as number) & mask;
  }
  return copy;
}

function sameBits(left: ParsedIp, right: ParsedIp): boolean {
  if (left.version === 4) return left.v4 === right.v4;
  return left.groups.every((group, index) => group === right.groups[index]);
}

/**
 * Why `text` is not a network this package accepts (in `overrides` and `trustedProxies`), or null
 * when it is one. For config schemas, so that they apply the very rule the factories apply.
 */
export function checkCidr(text: string): string | null {
  const parsed = parseCidr(text);
  return typeof parsed === 'string' ? parsed : null;
}
