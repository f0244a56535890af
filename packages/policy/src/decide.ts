import { normalizeHost } from './host.js';
import type { MatchKindName } from './host-pattern.js';
import type { Order } from './order.js';
import type { PolicyState } from './policy-state.js';
import { scanHost } from './suffix-scan.js';

/**
 * Why a decision came out as it did; the words are written for logs and metrics labels.
 * - `order-match`: blocked; an active order covering the client's country names the host.
 * - `unknown-country-blocked`: blocked; the country is unknown, `unknownCountry` is `block` and an active
 *   order names the host (DECISIONS #4: never blocks a host no order names).
 * - `country-not-covered`: not blocked; active orders name the host but none covers the client's country.
 * - `unknown-country-allowed`: not blocked; the country is unknown and `unknownCountry` is `allow`.
 * - `outside-window`: not blocked; only orders outside their `from`/`until` window name the host.
 * - `no-order`: not blocked; no order names the host.
 * - `ip-literal`: not blocked; the host is an IP literal, which no order can name (DECISIONS #7).
 * - `invalid-host`: not blocked; the host could not be normalised (the edge answers 400).
 */
export type DecisionReason =
  | 'order-match'
  | 'unknown-country-blocked'
  | 'country-not-covered'
  | 'unknown-country-allowed'
  | 'outside-window'
  | 'no-order'
  | 'ip-literal'
  | 'invalid-host';

/**
 * The answer of `Policy.decide()`. `order` and `matchedHost` are set whenever an order names the host
 * (blocking or not: the most relevant one, by the same precedence); `host` is the normalised host.
 */
export type Decision = {
  blocked: boolean;
  reason: DecisionReason;
  host?: string;
  order?: Order;
  /** The pattern that matched: `example.com` (exact or include-subdomains) or `*.example.com`. */
  matchedHost?: string;
  match?: MatchKindName;
};

/** What `decide()` is asked: a raw host, the client's country (unknown: null/undefined) and the instant. */
export type DecisionQuery = { host: string; country?: string | null; at?: Date | number };

const INVALID_HOST: Decision = Object.freeze({ blocked: false, reason: 'invalid-host' });

/**
 * Decides one request (DECISIONS #1–#5). Looks the normalised host and each parent suffix up in the
 * index (`a.b.example.com`, `b.example.com`, `example.com`, `com`; see suffix-scan.ts): EXACT rules count
 * only on the host itself, WILDCARD rules only on a proper suffix, include-subdomains rules on both.
 * Among matching orders, precedence (DECISIONS #5) is: match kind (exact, then include-subdomains, then
 * wildcard), then the longer matched name, then the earliest `from`, then the smallest id (matches.ts).
 * Never throws: a host that cannot be normalised is "not blocked, invalid-host".
 */
export function decide(state: PolicyState, query: DecisionQuery): Decision {
  const raw = query?.host;
  // Hosts usually arrive as plain names: decided in one pass, the full normalisation only for the others.
  if (typeof raw === 'string') {
    const decision = scanHost(state, query, raw, false);
    if (decision !== undefined) return decision;
  }
  const normalized = normalizeHost(raw);
  if (!normalized.ok) return INVALID_HOST;
  if (normalized.kind !== 'name') return { blocked: false, reason: 'ip-literal', host: normalized.host };
  return scanHost(state, query, normalized.host, true) as Decision;
}
