import { normalizeHost } from '@edge451/policy';

/** A host a site answers for: an exact name or IP literal, or `*.suffix` for every subdomain at any depth. */
export type SiteHost =
  | { ok: true; kind: 'exact'; host: string; pattern: string }
  | { ok: true; kind: 'wildcard'; host: string; pattern: string };

/**
 * Parses one entry of a site's `hosts`, normalised with the product's one host rule (`normalizeHost`),
 * so a site written as `Example.COM.` routes the same requests as `example.com`.
 */
export function parseSiteHost(raw: string): SiteHost | { ok: false; reason: string } {
  const wildcard = raw.startsWith('*.');
  const normalized = normalizeHost(wildcard ? raw.slice(2) : raw);
  if (!normalized.ok)
    return { ok: false, reason: `expected a host name, IP literal or *.name: ${normalized.reason}` };
  if (wildcard && normalized.kind !== 'name') {
    return { ok: false, reason: 'expected a host name after "*.", not an IP literal' };
  }
  const host = normalized.host;
  return wildcard
    ? { ok: true, kind: 'wildcard', host, pattern: `*.${host}` }
    : { ok: true, kind: 'exact', host, pattern: host };
}
