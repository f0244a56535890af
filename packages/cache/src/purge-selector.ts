import { makeCacheKey } from './cache-key.js';
import { CacheError } from './errors.js';
import type { StoreSelector } from './stores/store.js';
import type { PurgeSelector } from './types.js';

/**
 * Puts an operator's host into the form requests' hosts are stored under, or says it has none
 * (undefined). The edge passes `normalizeHost` of @edge451/policy, the one rule for hosts, so that
 * `Example.COM.`, `example.com:443` and a Unicode name purge what requests to them stored.
 */
export type PurgeHostForm = (host: string) => string | undefined;

/**
 * The default form: hosts must already be normalised (lower-case A-labels, no port, no trailing dot, an
 * IPv6 literal unbracketed), because purge hosts are compared with stored hosts as they are; refusing
 * anything else turns a purge that would silently match nothing into a clear error.
 */
export const alreadyNormalisedHost: PurgeHostForm = (host) => (normalisedHost.test(host) ? host : undefined);

// A lower-case name (letters, digits, `-`, `_`, no empty label), a dotted IPv4, or an unbracketed IPv6:
// the forms normalizeHost returns. A port or a trailing dot could never match a stored entry.
const normalisedHost = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|[0-9a-f:]*:[0-9a-f:.]*)$/;

/**
 * Turns an operator's purge selector into what the store understands, checking it first: exactly one
 * kind, non-empty strings, a `/` after the host of a URL or prefix, hosts in `hostForm`. Throws
 * `CACHE_PURGE_INVALID` (source `client`) with a message naming the selector and what was expected.
 */
export function toStoreSelector(
  selector: PurgeSelector,
  hostForm: PurgeHostForm = alreadyNormalisedHost,
): StoreSelector {
  const hostOnly = (host: string): string => {
    const stored = hostForm(host);
    if (stored === undefined) {
      throw invalid(`expected a host name or IP address as requests use them, got ${JSON.stringify(host)}`);
    }
    return stored;
  };
  const given = Object.keys(selector ?? {});
  if (given.length !== 1) {
    throw invalid(
      `give exactly one of url, host, hostSuffix, prefix, surrogateKey or all, got ${describe(given)}`,
    );
  }
  if ('all' in selector) {
    if (selector.all !== true) throw invalid('all must be true');
    return { kind: 'all' };
  }
  if ('surrogateKey' in selector) {
    return { kind: 'surrogate-key', surrogateKey: nonEmpty('surrogateKey', selector.surrogateKey) };
  }
  if ('host' in selector) return { kind: 'host', host: hostOnly(nonEmpty('host', selector.host)) };
  if ('hostSuffix' in selector) {
    return { kind: 'host-suffix', suffix: hostOnly(nonEmpty('hostSuffix', selector.hostSuffix)) };
  }
  if ('prefix' in selector) {
    const { host, path } = splitHostAndPath('prefix', nonEmpty('prefix', selector.prefix));
    return { kind: 'host', host: hostOnly(host), pathPrefix: path };
  }
  if ('url' in selector) {
    const { host, path } = splitHostAndPath('url', nonEmpty('url', selector.url));
    return { kind: 'key', key: makeCacheKey({ method: 'GET', host: hostOnly(host), path }) };
  }
  throw invalid(
    `unknown selector ${describe(given)}; expected url, host, hostSuffix, prefix, surrogateKey or all`,
  );
}

/** `https://example.com/a?b` or `example.com/a?b` → host `example.com`, path `/a?b` (never re-encoded). */
function splitHostAndPath(field: string, value: string): { host: string; path: string } {
  const withoutScheme = value.replace(/^https?:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  if (slash <= 0) {
    throw invalid(
      `${field} must be a host followed by a path starting with "/", got ${JSON.stringify(value)}`,
    );
  }
  return { host: withoutScheme.slice(0, slash), path: withoutScheme.slice(slash) };
}

function nonEmpty(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${field} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function describe(fields: string[]): string {
  return fields.length === 0 ? 'nothing' : fields.join(', ');
}

function invalid(message: string): CacheError {
  return new CacheError('CACHE_PURGE_INVALID', `invalid purge selector: ${message}`, 'client');
}
