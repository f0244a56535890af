import { isIPv6 } from 'node:net';

const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * Canonical text of an IPv6 address (no brackets), or `undefined` when `address` is not one.
 * The form is RFC 5952's: lower case, no leading zeros, the longest run of zero groups compressed,
 * and (RFC 5952 §5) IPv4-mapped addresses written with a dotted quad, `::ffff:192.0.2.1`.
 * Zone identifiers (`fe80::1%eth0`) are refused: they mean nothing outside the host that wrote them.
 */
export function canonicalIpv6(address: string): string | undefined {
  if (address.includes('%') || !isIPv6(address)) return undefined;
  let compressed: string;
  try {
    // The WHATWG URL serializer implements RFC 5952 §4 (compression, lower case) for us.
    compressed = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = MAPPED_HEX.exec(compressed);
  if (mapped === null) return compressed;
  const high = Number.parseInt(mapped[1] ?? '0', 16);
  const low = Number.parseInt(mapped[2] ?? '0', 16);
  return `::ffff:${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

const DOTTED_QUAD = /^(?:\d{1,3}\.){3}\d{1,3}$/;

/** Whether `host` (already through `domainToASCII`, which canonicalises IPv4 forms) is an IPv4 address. */
export function isCanonicalIpv4(host: string): boolean {
  return DOTTED_QUAD.test(host);
}
