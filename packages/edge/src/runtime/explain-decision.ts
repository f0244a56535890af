import type { CountryLocator } from '@edge451/geo';
import type { Policy } from '@edge451/policy';

export type DecisionQuery = { host: string; ip?: string; country?: string; at?: number };

/**
 * The decision for (host, ip | country, at) with where the country came from: what `edge451 decide` prints
 * and `GET /decide` answers. Uses the same policy and geo lookup as the request path.
 */
export function explainDecision(policy: Policy, locator: CountryLocator, query: DecisionQuery) {
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
