import { normalizeAsciiName, normalizeHost } from './host.js';

/** A plain host: matches only itself (DECISIONS #2). The numbers are also the precedence rank (#5). */
export const EXACT = 0;
/** An includeSubdomains host: matches itself and every subdomain. */
export const SUBTREE = 1;
/** A `*.` host: matches every subdomain at any depth, not the name itself. */
export const WILDCARD = 2;
/** How a rule matches. */
export type MatchKind = typeof EXACT | typeof SUBTREE | typeof WILDCARD;

/** The words used for a match kind in decisions and logs. */
export type MatchKindName = 'exact' | 'include-subdomains' | 'wildcard';
/** {@link MatchKindName} by {@link MatchKind}. */
export const MATCH_KIND_NAMES: readonly MatchKindName[] = ['exact', 'include-subdomains', 'wildcard'];

/** One host rule of an order: a normalised name and how it matches. */
export type HostRule = { readonly name: string; readonly kind: MatchKind };

/** A host entry as written in a document: a name or `*.` wildcard, or an object overriding the default. */
export type HostEntry = string | { host: string; includeSubdomains?: boolean };

/** A problem with a host entry; `field` is set when it concerns one key of the object form. */
export type HostEntryProblem = { message: string; field?: 'host' | 'includeSubdomains' | string };

/**
 * The pattern text of a rule, as `matchedHost` and `lift-host` use it: `*.example.com` for a wildcard,
 * the bare name otherwise (an include-subdomains rule is written as its name).
 */
export function patternOf(rule: HostRule): string {
  return rule.kind === WILDCARD ? `*.${rule.name}` : rule.name;
}

/** `found "…"` with hostile or huge values kept readable. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

const EXPECTED_HOST = 'expected a host name such as "example.com" or "*.example.com"';

/**
 * Parses one pattern string of an order (`example.com`, `*.example.com`), normalised by
 * {@link normalizeHost}. `includeSubdomains` applies to plain names only. Refuses ports, IP literals
 * (DECISIONS #7: no order can match one), `*` anywhere but a whole first label, and wildcards or
 * include-subdomains over a single label (`*.com` would block a whole top-level domain).
 */
export function parseHostPattern(value: string, includeSubdomains: boolean): HostRule | HostEntryProblem {
  const wildcard = value.startsWith('*.');
  const text = wildcard ? value.slice(2) : value;
  // Most hosts of a large order are plain names: one pass, no allocation (no port allowed here).
  const plain = text.includes(':') ? undefined : normalizeAsciiName(text);
  if (plain !== undefined && ((!wildcard && !includeSubdomains) || plain.includes('.'))) {
    return { name: plain, kind: wildcard ? WILDCARD : includeSubdomains ? SUBTREE : EXACT };
  }
  const problem = (reason: string) => ({ message: `${EXPECTED_HOST}, found ${quote(value)}: ${reason}` });
  if (text.includes('*')) return problem('"*" is only allowed as the whole first label');
  if (text.includes(':') || text.includes('['))
    return problem('an order host has no port and is never an IP literal');
  const normalized = normalizeHost(text);
  if (!normalized.ok) return problem(normalized.reason);
  if (normalized.kind !== 'name')
    return problem('IP literals cannot be order hosts (no order can match an IP literal)');
  const kind = wildcard ? WILDCARD : includeSubdomains ? SUBTREE : EXACT;
  if (kind !== EXACT && !normalized.host.includes('.')) {
    return problem('a wildcard or includeSubdomains must name at least two labels');
  }
  return { name: normalized.host, kind };
}

/** Parses a host entry of an order or notification: a pattern string or `{ host, includeSubdomains? }`. */
export function parseHostEntry(
  entry: unknown,
  includeSubdomainsDefault: boolean,
): HostRule | HostEntryProblem {
  if (typeof entry === 'string') return parseHostPattern(entry, includeSubdomainsDefault);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return { message: `${EXPECTED_HOST} or { host, includeSubdomains }, found ${describeValue(entry)}` };
  }
  const { host, includeSubdomains, ...rest } = entry as Record<string, unknown>;
  const unknownKey = Object.keys(rest)[0];
  if (unknownKey !== undefined) {
    return { field: unknownKey, message: 'unknown key: expected only "host" and "includeSubdomains"' };
  }
  if (typeof host !== 'string')
    return { field: 'host', message: `${EXPECTED_HOST}, found ${describeValue(host)}` };
  if (includeSubdomains !== undefined && typeof includeSubdomains !== 'boolean') {
    return {
      field: 'includeSubdomains',
      message: `expected true or false, found ${describeValue(includeSubdomains)}`,
    };
  }
  if (host.startsWith('*.') && includeSubdomains === true) {
    return {
      field: 'includeSubdomains',
      message: `a wildcard already matches every subdomain; write { host: ${quote(host.slice(2))}, includeSubdomains: true } to match the name too`,
    };
  }
  const rule = parseHostPattern(host, includeSubdomains ?? includeSubdomainsDefault);
  return 'message' in rule ? { field: 'host', message: rule.message } : rule;
}

/** A short description of any value for "found …" messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${String(value)}`;
}

/** The document form of a rule, relative to its order's `includeSubdomains` default. */
export function toHostEntry(rule: HostRule, includeSubdomainsDefault: boolean): HostEntry {
  if (rule.kind === WILDCARD) return patternOf(rule);
  const includeSubdomains = rule.kind === SUBTREE;
  return includeSubdomains === includeSubdomainsDefault ? rule.name : { host: rule.name, includeSubdomains };
}
