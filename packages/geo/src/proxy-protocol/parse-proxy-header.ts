import { Command, AddressFamilyType as Family, V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js';
import { formatIp } from '../ip/normalize-ip.js';
import { loadIpBytes, ParsedIp, parseIpInto } from '../ip/parse-ip.js';

/** Outcome of looking at the first bytes of a connection. */
export type ProxyHeaderParse =
  | { status: 'incomplete'; bytesNeeded?: number }
  | { status: 'invalid'; detail: string }
  | { status: 'complete'; headerLength: number; sourceAddress: string | null };

// PROXY protocol spec (haproxy doc/proxy-protocol.txt) §2.1 and §2.2.
const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_MAX_LENGTH = 107;
const V2_FIXED_LENGTH = 16;

/**
 * Whether `bytes` start with a PROXY signature: `yes` (v1 or v2), `no`, or `maybe` (too few bytes
 * to tell). Used on untrusted peers, where any PROXY header is an attempt to choose an address.
 */
export function startsWithProxySignature(bytes: Buffer): 'yes' | 'no' | 'maybe' {
  let answer: 'yes' | 'no' | 'maybe' = 'no';
  for (const signature of [V1_SIGNATURE, V2_SIGNATURE]) {
    const compared = Math.min(bytes.length, signature.length);
    if (bytes.compare(signature, 0, compared, 0, compared) !== 0) continue;
    if (compared === signature.length) return 'yes';
    answer = 'maybe';
  }
  return answer;
}

/**
 * Parses a PROXY v1 or v2 header at the start of `bytes`. Framing (where the header ends) and
 * address checks are ours: `proxy-protocol-js` decodes the fields of a framed header, but on its
 * own it ignores the v2 length (TLVs would leak into the HTTP stream), has no v1 length bound and
 * does not check addresses. `sourceAddress` is normalised, or null for LOCAL / UNKNOWN / UNSPEC /
 * UNIX, where the connection's own peer is the client. Never throws.
 */
export function parseProxyHeader(bytes: Buffer): ProxyHeaderParse {
  const signature = startsWithProxySignature(bytes);
  if (signature === 'maybe') return { status: 'incomplete' };
  if (signature === 'no') return { status: 'invalid', detail: 'no PROXY protocol signature' };
  return bytes[0] === V1_SIGNATURE[0] ? parseV1(bytes) : parseV2(bytes);
}

function parseV1(bytes: Buffer): ProxyHeaderParse {
  const lineEnd = bytes.indexOf('\r\n', 0, 'latin1');
  if (lineEnd === -1 || lineEnd + 2 > V1_MAX_LENGTH) {
    if (bytes.length < V1_MAX_LENGTH && lineEnd === -1) return { status: 'incomplete' };
    return { status: 'invalid', detail: `v1 header longer than ${V1_MAX_LENGTH} bytes` };
  }
  const line = bytes.toString('latin1', 0, lineEnd);
  const headerLength = lineEnd + 2;
  // §2.1: after "PROXY UNKNOWN" the receiver ignores the rest of the line and uses the real peer.
  if (line === 'PROXY UNKNOWN' || line.startsWith('PROXY UNKNOWN ')) {
    return { status: 'complete', headerLength, sourceAddress: null };
  }
  let header: V1ProxyProtocol;
  try {
    header = V1ProxyProtocol.parse(`${line}\r\n`);
  } catch {
    return { status: 'invalid', detail: `malformed v1 header ${JSON.stringify(line)}` };
  }
  const version = header.inetProtocol === 'TCP4' ? 4 : 6;
  const source = v1Address(header.source.ipAddress, version);
  const destination = v1Address(header.destination.ipAddress, version);
  const portsValid = [header.source.port, header.destination.port].every((port) => port <= 65535);
  if (source === null || destination === null || !portsValid || line.split(' ').length !== 6) {
    return { status: 'invalid', detail: `malformed v1 header ${JSON.stringify(line)}` };
  }
  return { status: 'complete', headerLength, sourceAddress: source };
}

/** The normalised address if `text` is an address of the family TCP4/TCP6 announced, else null. */
function v1Address(text: string, version: 4 | 6): string | null {
  const parsed = new ParsedIp();
  const isV6Syntax = text.includes(':');
  if (parseIpInto(text, parsed) === 0 || isV6Syntax !== (version === 6) || text.includes('%')) return null;
  return formatIp(parsed);
}

function parseV2(bytes: Buffer): ProxyHeaderParse {
  if (bytes.length < V2_FIXED_LENGTH) return { status: 'incomplete' };
  const headerLength = V2_FIXED_LENGTH + bytes.readUInt16BE(14);
  if (bytes.length < headerLength) return { status: 'incomplete', bytesNeeded: headerLength };
  let header: V2ProxyProtocol;
  try {
    header = V2ProxyProtocol.parse(bytes.subarray(0, headerLength));
  } catch (error) {
    const detail = (error as { message?: unknown })?.message;
    return { status: 'invalid', detail: `malformed v2 header: ${String(detail)}` };
  }
  // §2.2: LOCAL (health checks) and UNSPEC / UNIX families carry no client address to use.
  if (header.command !== Command.PROXY) return { status: 'complete', headerLength, sourceAddress: null };
  const { proxyAddress } = header;
  if (header.addressFamilyType !== Family.INET && header.addressFamilyType !== Family.INET6) {
    return { status: 'complete', headerLength, sourceAddress: null };
  }
  const addressBytes = (proxyAddress as { sourceAddress: { address: number[] } }).sourceAddress.address;
  const parsed = new ParsedIp();
  loadIpBytes(addressBytes, parsed);
  return { status: 'complete', headerLength, sourceAddress: formatIp(parsed) };
}
