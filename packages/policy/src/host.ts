import { domainToASCII } from 'node:url';
import { canonicalIpv6, isCanonicalIpv4 } from './ip-literal.js';

/** What a normalised host is: a DNS name, or an IP literal (which no order can ever match). */
export type HostKind = 'name' | 'ipv4' | 'ipv6';

/** A host that passed {@link normalizeHost}: `host` is the form every package compares. */
export type NormalizedHost = { ok: true; host: string; kind: HostKind };

/** A host {@link normalizeHost} refused; `reason` is a short sentence for logs and error messages. */
export type InvalidHost = { ok: false; reason: string };

const MAX_NAME_OCTETS = 253;
const MAX_LABEL_OCTETS = 63;
// Longer raw input cannot become a 253-octet name (UTS #46 drops very few code points); refusing it
// early keeps hostile input from costing IDNA work.
const MAX_INPUT_LENGTH = 1024;

/**
 * THE host normalisation rule of edge451 (DECISIONS #1, #7): every package calls this and nothing else.
 *
 * Accepts a raw `Host` header value or URL authority and returns the form orders, sites and cache keys
 * use: lower case, ONE trailing dot removed, the port removed (`host:443`, `[v6]:443`), internationalised
 * names converted to punycode A-labels with `node:url` `domainToASCII` (UTS #46 non-transitional, so
 * `faß.de` is `xn--fa-hia.de`, full-width letters and ideographic full stops map to ASCII).
 * A name must then be labels of 1–63 octets of letters, digits, `-` and `_` (real subdomains use `_`),
 * 253 octets at most.
 *
 * IP literals are valid and reported by `kind`: IPv4 in dotted-quad form (`domainToASCII` also turns
 * `127.1` or `0x7f000001` into `127.0.0.1`, as browsers do), IPv6 WITHOUT brackets in RFC 5952 form.
 * An IPv4-mapped IPv6 literal (`[::ffff:1.2.3.4]`) stays `kind: 'ipv6'` written `::ffff:1.2.3.4`: it is
 * not unmapped to `1.2.3.4`, because a site lists the literal clients use; no order can match either.
 * A bare IPv6 address without brackets is accepted as a whole (it cannot carry a port), so the function is
 * idempotent on its own output.
 *
 * Refused, with a reason: empty input, userinfo (`@`), slashes, `?`/`#`, percent-encoding, whitespace and
 * control characters, empty labels, over-long labels or names, bad ports, zone identifiers.
 * Never throws, whatever it is given.
 */
export function normalizeHost(input: string): NormalizedHost | InvalidHost {
  if (typeof input !== 'string') return invalid('host is not a string');
  const fast = normalizeAsciiName(input);
  if (fast !== undefined) return { ok: true, host: fast, kind: 'name' };
  try {
    return normalizeSlowly(input);
  } catch {
    return invalid('host could not be parsed');
  }
}

function invalid(reason: string): InvalidHost {
  return { ok: false, reason };
}

/**
 * The hot path of {@link normalizeHost}: plain ASCII names (what clients send) without calling
 * `domainToASCII`. Returns `undefined` whenever the slow path must decide (anything unusual, every error,
 * `xn--` labels that need checking, a last label starting with a digit that may make the name an IPv4
 * address). UTS #46 maps ASCII letters to lower case and leaves digits, `-`, `_` and `.` alone, so for
 * the input accepted here the result equals the slow path's; a property test holds us to that.
 * `decide()` applies the same rules (the helpers below) in its own right-to-left pass.
 */
export function normalizeAsciiName(input: string): string | undefined {
  const end = plainNameEnd(input);
  if (end === -1) return undefined;
  let labelStart = 0;
  let hasUpper = false;
  for (let index = 0; index <= end; index++) {
    const code = index === end ? 46 : input.charCodeAt(index);
    if (code === 46) {
      if (!isPlainLabel(input, labelStart, index, index === end)) return undefined;
      labelStart = index + 1;
    } else if (code >= 65 && code <= 90) {
      hasUpper = true;
    } else if (!isNameCode(code)) {
      return undefined;
    }
  }
  const name = end === input.length ? input : input.slice(0, end);
  return hasUpper ? name.toLowerCase() : name;
}

/**
 * Where the name of a plain host ends: before a valid `:port` and one trailing dot; -1 when the port is
 * invalid or the name empty or longer than 253 octets (the slow path then gives the reason).
 */
export function plainNameEnd(input: string): number {
  let end = input.length;
  // A port is a colon and at most five digits, so only the tail is read (not the whole name, as
  // indexOf(':') would): this runs for every decision.
  let index = end - 1;
  const limit = Math.max(-1, end - 7);
  while (index > limit && isDigitCode(input.charCodeAt(index))) index--;
  if (index >= 0 && input.charCodeAt(index) === 58) {
    if (!isPort(input, index + 1)) return -1;
    end = index;
  }
  if (end > 0 && input.charCodeAt(end - 1) === 46) end--;
  return end === 0 || end > MAX_NAME_OCTETS ? -1 : end;
}

function isDigitCode(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Whether a character code may appear in a normalised label: a-z, 0-9, `-`, `_`. */
export function isNameCode(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 45 || code === 95;
}

/**
 * Whether `input.slice(start, end)` is a label the fast path may accept as it is: 1–63 octets, not an
 * `xn--` label (the slow path checks the punycode), and, for the last label, not starting with a digit.
 */
export function isPlainLabel(input: string, start: number, end: number, last: boolean): boolean {
  const length = end - start;
  if (length === 0 || length > MAX_LABEL_OCTETS) return false;
  const first = input.charCodeAt(start);
  if (last && first >= 48 && first <= 57) return false;
  return !(
    length >= 4 &&
    (first | 32) === 120 &&
    (input.charCodeAt(start + 1) | 32) === 110 &&
    input.charCodeAt(start + 2) === 45 &&
    input.charCodeAt(start + 3) === 45
  );
}

/** RFC 3986 §3.2.3: port = *DIGIT (so `host:` is valid); we also refuse values above 65535. */
function isPort(input: string, start: number): boolean {
  const length = input.length - start;
  if (length > 5) return false;
  let value = 0;
  for (let i = start; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    value = value * 10 + (c - 48);
  }
  return value <= 65535;
}

const FORBIDDEN: readonly [RegExp, string][] = [
  [/\p{Cc}/u, 'host contains a control character'],
  [/\s/, 'host contains whitespace'],
  [/@/, 'host contains userinfo ("@")'],
  [/[/\\]/, 'host contains a slash'],
  [/[?#]/, 'host contains a query or fragment character'],
  [/%/, 'host contains percent-encoding or an IPv6 zone'],
];

function normalizeSlowly(input: string): NormalizedHost | InvalidHost {
  if (input.length === 0) return invalid('host is empty');
  if (input.length > MAX_INPUT_LENGTH) return invalid(`host is longer than ${MAX_INPUT_LENGTH} characters`);
  for (const [pattern, reason] of FORBIDDEN) if (pattern.test(input)) return invalid(reason);
  if (input.startsWith('[')) return normalizeBracketedIpv6(input);
  const firstColon = input.indexOf(':');
  if (firstColon !== -1 && input.indexOf(':', firstColon + 1) !== -1) return normalizeBareIpv6(input);
  if (firstColon !== -1 && !isPort(input, firstColon + 1)) return invalid('host has an invalid port');
  return normalizeName(firstColon === -1 ? input : input.slice(0, firstColon));
}

function normalizeBracketedIpv6(input: string): NormalizedHost | InvalidHost {
  const close = input.indexOf(']');
  if (close === -1) return invalid('host has "[" without "]"');
  const rest = input.slice(close + 1);
  if (rest !== '' && !(rest.startsWith(':') && isPort(rest, 1))) return invalid('host has an invalid port');
  const address = canonicalIpv6(input.slice(1, close));
  if (address === undefined) return invalid('host has an invalid IPv6 literal');
  return { ok: true, host: address, kind: 'ipv6' };
}

function normalizeBareIpv6(input: string): NormalizedHost | InvalidHost {
  const address = canonicalIpv6(input);
  if (address === undefined) return invalid('host is not a valid IPv6 literal (write it in brackets)');
  return { ok: true, host: address, kind: 'ipv6' };
}

function normalizeName(raw: string): NormalizedHost | InvalidHost {
  const strippedDot = raw.endsWith('.');
  const name = strippedDot ? raw.slice(0, -1) : raw;
  if (name === '') return invalid('host is empty');
  let ascii = domainToASCII(name);
  if (ascii === '') return invalid('host is not a valid internationalised domain name');
  // A Unicode full stop (`。`) maps to "." only now; still strip at most one trailing dot in total.
  if (!strippedDot && ascii.endsWith('.')) ascii = ascii.slice(0, -1);
  if (isCanonicalIpv4(ascii)) return { ok: true, host: ascii, kind: 'ipv4' };
  const problem = describeNameProblem(ascii);
  if (problem !== undefined) return invalid(problem);
  return { ok: true, host: ascii, kind: 'name' };
}

const NAME_CHARACTER = /^[a-z0-9_-]$/;

function describeNameProblem(ascii: string): string | undefined {
  if (ascii.length > MAX_NAME_OCTETS) return `host is longer than ${MAX_NAME_OCTETS} octets`;
  for (const label of ascii.split('.')) {
    if (label.length === 0) return 'host has an empty label';
    if (label.length > MAX_LABEL_OCTETS) return `host has a label longer than ${MAX_LABEL_OCTETS} octets`;
    for (const character of label) {
      if (!NAME_CHARACTER.test(character)) return `host contains ${JSON.stringify(character)}`;
    }
  }
  return undefined;
}
