import { type ParsedIp, parseIpInto } from '../ip/parse-ip.js';

/** Which header an entry came from: they spell addresses differently. */
export type HopSyntax = 'x-forwarded-for' | 'forwarded';

/**
 * Parses one hop of a forwarding header into `into`; returns false when it names no usable
 * address. Accepted: `1.2.3.4`, `1.2.3.4:port`, `[2001:db8::1]`, `[2001:db8::1]:port`, and in
 * `X-Forwarded-For` also a bare `2001:db8::1`. `Forwarded` needs brackets around IPv6 (RFC 7239
 * §6) and allows obfuscated ports (`_abc`, §6.3). `unknown` and obfuscated identifiers
 * (`_hidden`) are not addresses: false.
 */
export function parseHopAddress(text: string, syntax: HopSyntax, into: ParsedIp): boolean {
  if (text.charCodeAt(0) === 91 /* [ */) {
    const close = text.indexOf(']');
    if (close === -1 || !isPortSuffix(text.slice(close + 1), syntax)) return false;
    const inside = text.slice(1, close);
    return inside.includes(':') && parseIpInto(inside, into) !== 0;
  }
  const firstColon = text.indexOf(':');
  if (firstColon === -1) return parseIpInto(text, into) === 4;
  if (firstColon === text.lastIndexOf(':')) {
    return isPortSuffix(text.slice(firstColon), syntax) && parseIpInto(text.slice(0, firstColon), into) === 4;
  }
  return syntax === 'x-forwarded-for' && parseIpInto(text, into) !== 0;
}

/** Empty, or `:` followed by a port (up to 65535 in digits, or `_obfuscated` in `Forwarded`). */
function isPortSuffix(suffix: string, syntax: HopSyntax): boolean {
  if (suffix === '') return true;
  if (suffix.charCodeAt(0) !== 58 /* : */) return false;
  const port = suffix.slice(1);
  if (/^\d{1,5}$/.test(port)) return Number(port) <= 65535;
  return syntax === 'forwarded' && /^_[A-Za-z0-9._-]+$/.test(port);
}
