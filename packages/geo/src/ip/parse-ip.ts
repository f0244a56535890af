/**
 * A parsed IP address, reused across calls so that the lookup path allocates nothing.
 * `version` 4: `v4` holds the address as an unsigned 32-bit number.
 * `version` 6: `groups` holds the eight 16-bit groups.
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`, also written `::ffff:0a0b:0c0d`) is stored as version 4.
 */
export class ParsedIp {
  version: 0 | 4 | 6 = 0;
  v4 = 0;
  readonly groups = new Uint16Array(8);
}

const CHAR_0 = 48;
const CHAR_9 = 57;
const CHAR_DOT = 46;
const CHAR_COLON = 58;

/**
 * Parses `text` into `into` and returns its version, or 0 when `text` is not an IP address.
 *
 * Accepts exactly what `net.isIP` accepts (dotted-quad IPv4 without leading zeros; IPv6 with `::`,
 * embedded IPv4 and an optional `%zone`, which is dropped), checked by a property test against it.
 * Hand-written rather than `net.isIP` + `ipaddr.js` because the country lookup has a budget of
 * about 1 µs and those two together cost more than the whole tree walk.
 */
export function parseIpInto(text: string, into: ParsedIp): 0 | 4 | 6 {
  into.version = 0;
  if (text.indexOf(':') === -1) {
    const value = parseIpv4(text, 0, text.length);
    if (value < 0) return 0;
    into.v4 = value;
    into.version = 4;
    return 4;
  }
  const end = addressEnd(text);
  if (end < 0 || !parseIpv6(text, end, into.groups)) return 0;
  into.version = 6;
  return mapIpv4(into);
}

/** Turns an IPv4-mapped IPv6 address (`::ffff:0:0/96`, RFC 4291 §2.5.5.2) into IPv4; returns the version. */
function mapIpv4(into: ParsedIp): 4 | 6 {
  const groups = into.groups;
  const mapped =
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0xffff;
  if (!mapped) return 6;
  into.v4 = (groups[6] as number) * 0x10000 + (groups[7] as number);
  into.version = 4;
  return 4;
}

/** Index where the address ends: before a valid `%zone`, or the string's length; -1 if the zone is invalid. */
function addressEnd(text: string): number {
  const percent = text.indexOf('%');
  if (percent === -1) return text.length;
  if (percent === text.length - 1) return -1;
  for (let index = percent + 1; index < text.length; index++) {
    if (!isZoneChar(text.charCodeAt(index))) return -1;
  }
  return percent;
}

/** RFC 4007 zone ids as Node accepts them: letters, digits, `-`, `.`, `:`. */
function isZoneChar(code: number): boolean {
  return (
    (code >= CHAR_0 && code <= CHAR_9) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 45 ||
    code === CHAR_DOT ||
    code === CHAR_COLON
  );
}

/** Parses a dotted quad in `text[start, end)`; returns the unsigned 32-bit value or -1. */
function parseIpv4(text: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let index = start; index < end; index++) {
    const code = text.charCodeAt(index);
    if (code >= CHAR_0 && code <= CHAR_9) {
      // A leading zero is refused (as Node does): `010` means 8 to some parsers and 10 to others.
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (code - CHAR_0);
      if (octet > 255) return -1;
      digits++;
    } else if (code === CHAR_DOT) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

/** Value of each ASCII hex digit, -1 for every other character. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(digit)] = digit;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(digit)] = digit;
}

/** Parses the IPv6 address in `text[0, end)` into `groups`; false if it is not one (RFC 4291 §2.2). */
function parseIpv6(text: string, end: number, groups: Uint16Array): boolean {
  let count = 0;
  let compressAt = -1;
  let index = 0;
  if (text.charCodeAt(0) === CHAR_COLON) {
    if (end < 2 || text.charCodeAt(1) !== CHAR_COLON) return false;
    compressAt = 0;
    index = 2;
    if (index === end) return fillCompressed(groups, count, compressAt);
  }
  for (;;) {
    const groupStart = index;
    const groupEnd = Math.min(end, index + 4);
    let value = 0;
    let code = 0;
    while (index < groupEnd) {
      code = text.charCodeAt(index);
      const digit = code < 128 ? (HEX_VALUE[code] as number) : -1;
      if (digit < 0) break;
      value = value * 16 + digit;
      index++;
    }
    if (index === end) {
      if (index === groupStart || count === 8) return false;
      groups[count++] = value;
      break;
    }
    code = text.charCodeAt(index);
    if (code === CHAR_DOT) {
      // Embedded IPv4 (`::ffff:1.2.3.4`): the rest is a dotted quad filling the last two groups.
      if (count > (compressAt === -1 ? 6 : 5)) return false;
      const v4 = parseIpv4(text, groupStart, end);
      if (v4 < 0) return false;
      groups[count++] = Math.floor(v4 / 0x10000);
      groups[count++] = v4 % 0x10000;
      break;
    }
    if (code !== CHAR_COLON || index === groupStart || count === 8) return false;
    groups[count++] = value;
    index++;
    if (index === end) return false;
    if (text.charCodeAt(index) === CHAR_COLON) {
      if (compressAt !== -1) return false;
      compressAt = count;
      index++;
      if (index === end) break;
    }
  }
  if (compressAt === -1) return count === 8;
  return count <= 7 && fillCompressed(groups, count, compressAt);
}

/** Moves the groups written after `::` to the end and zeroes the gap. */
function fillCompressed(groups: Uint16Array, count: number, compressAt: number): boolean {
  const tail = count - compressAt;
  for (let offset = 1; offset <= tail; offset++) {
    groups[8 - offset] = groups[count - offset] as number;
  }
  for (let index = compressAt; index < 8 - tail; index++) groups[index] = 0;
  return true;
}

/**
 * Loads a binary address (4 or 16 bytes, network order) into `into`; an IPv4-mapped IPv6 address
 * becomes IPv4, as in {@link parseIpInto}. Returns the version, or 0 for any other length.
 */
export function loadIpBytes(bytes: ArrayLike<number>, into: ParsedIp): 0 | 4 | 6 {
  into.version = 0;
  if (bytes.length === 4) {
    into.v4 =
      (bytes[0] as number) * 0x1000000 +
      (bytes[1] as number) * 0x10000 +
      (bytes[2] as number) * 0x100 +
      (bytes[3] as number);
    into.version = 4;
    return 4;
  }
  if (bytes.length !== 16) return 0;
  for (let group = 0; group < 8; group++) {
    into.groups[group] = (bytes[group * 2] as number) * 256 + (bytes[group * 2 + 1] as number);
  }
  into.version = 6;
  return mapIpv4(into);
}
