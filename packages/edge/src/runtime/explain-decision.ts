import { type CountryLocator, normalizeIp } from '@edge451/geo';
import { isCountryCode, type Policy } from '@edge451/policy';
import { EdgeError } from '../errors.js';

export type DecisionQuery = { host: string; ip?: string; country?: string; at?: number };

/**
 * The decision for (host, ip | country, at) with where the country came from: what `edge451 decide` prints
 * and `GET /decide` answers. Uses the same policy and geo lookup as the request path.
 */
export function explainDecision(policy: Policy, locator: CountryLocator, query: DecisionQuery) {
  // A typo in an address must not read as "not blocked, country unknown".
  if (query.ip !== undefined && normalizeIp(query.ip) === null) {
    throw new EdgeError(
      'EDGE_BAD_REQUEST',
      'client',
      `expected ip to be an IPv4 or IPv6 address, got "${query.ip}"`,
    );
  }
  if (query.country !== undefined && !isCountryCode(query.country.toUpperCase())) {
    throw new EdgeError(
      'EDGE_BAD_REQUEST',
      'client',
      `expected country to be an ISO 3166-1 alpha-2 code, got "${query.country}"`,
    );
  }
  const located =
    query.country !== undefined
      ? { country: query.country.toUpperCase(), source: 'given' as const }
      : query.ip !== undefined
        ? locator.lookupCountry(query.ip)
        : { country: null, source: 'unknown' as const };
  const at = query.at ?? Date.now();
  const decision = policy.decide({ host: query.host, country: located.country, at });
  return {
    blocked: decision.blocked,
    reason: decision.reason,
    host: decision.host ?? query.host,
    matchedHost: decision.matchedHost ?? null,
    order: decision.order ?? null,
    client: { ip: query.ip ?? null, country: located.country, countrySource: located.source },
    at: new Date(at).toISOString(),
    policyVersion: policy.version,
  };
}
