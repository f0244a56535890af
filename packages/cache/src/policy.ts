import CachePolicy from 'http-cache-semantics';
import { httpDate } from './http-date.js';

/** http-cache-semantics' parsed response Cache-Control directives (its `_rescc`, not in its types). */
type Directives = Record<string, string | boolean>;

function directivesOf(policy: CachePolicy): Directives {
  return (policy as unknown as { _rescc: Directives })._rescc;
}

/** The parts of http-cache-semantics 4.3 that `responseHeaders` is built from (not in its types). */
interface ResponseHeaderInternals {
  _resHeaders: CachePolicy.Headers;
  _copyWithoutHopByHopHeaders(headers: CachePolicy.Headers): CachePolicy.Headers;
  _hasExplicitExpiration(): boolean;
}

const DAY_SECONDS = 24 * 3600;

/** The request shape http-cache-semantics evaluates. */
export interface PolicyRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Response Cache-Control directives, as the library parsed them (for labelling, never for deciding). */
export function responseDirectives(policy: CachePolicy): Readonly<Directives> {
  return directivesOf(policy);
}

/**
 * RFC 9111 §4.2.4: a cache must not serve stale when an explicit directive forbids it. http-cache-semantics
 * 4.3 lets stale-while-revalidate and stale-if-error through regardless, so they are checked here.
 * An explicit `stale-*` directive is taken as the origin's permission over the proxy-revalidate that
 * s-maxage implies (§5.2.2.10), as CDNs do; `no-cache`, `must-revalidate` and `proxy-revalidate` win.
 */
export function forbidsStale(policy: CachePolicy): boolean {
  const directives = directivesOf(policy);
  return (
    directives['no-cache'] !== undefined ||
    directives['must-revalidate'] !== undefined ||
    directives['proxy-revalidate'] !== undefined
  );
}

// The instant `atInstant` holds every policy's clock at while its function runs (synchronously).
let heldInstant: number | undefined;

/**
 * Runs `read` with every policy's clock reading `at`: http-cache-semantics reads the clock several times
 * in one evaluation (freshness, Age, Date), and an answer kept for later (fresh-answers.ts) must be the
 * answer of one instant.
 */
export function atInstant<T>(at: number, read: () => T): T {
  const outer = heldInstant;
  heldInstant = at;
  try {
    return read();
  } finally {
    heldInstant = outer;
  }
}

/** What a policy's clock reads now (the cache's clock, unless `atInstant` holds it). */
export function policyNow(policy: CachePolicy): number {
  return (policy as unknown as { now(): number }).now();
}

/** http-cache-semantics 4.3 internals the corrections below go through (not in its types). */
interface FreshnessInternals {
  _allowsStoringAuthenticated(this: CachePolicy): boolean;
}
const library = CachePolicy.prototype as unknown as FreshnessInternals;

/**
 * A CachePolicy class whose clock is `clock` (epoch ms), so tests and the cache agree on "now", with these
 * corrections to http-cache-semantics 4.3.0:
 * - a *fresh* `must-revalidate` response is served without revalidation (RFC 9111 §5.2.2.2 restricts only
 *   stale reuse; upstream regression kornelski/http-cache-semantics#54, still open), also when it answered
 *   a request with Authorization, which must-revalidate is what allows storing (§3.5);
 * - a `proxy-revalidate` response has its freshness lifetime (the library gives it none in a shared cache;
 *   §5.2.2.8 too restricts only stale reuse, which `forbidsStale` enforces);
 * - stale-while-revalidate is not used where `forbidsStale` says so.
 * The tests in http-cache.test files pin both, so an upgrade that fixes #54 shows up.
 * `responseHeaders` is the library's own, step for step, with its Date formatted once per second
 * (http-date.ts); a property test in policy.test.ts pins it to the library's output.
 */
export function createPolicyClass(clock: () => number): typeof CachePolicy {
  return class EdgeCachePolicy extends CachePolicy {
    // Not in the library's types, but documented there as the clock to replace.
    now(): number {
      return heldInstant ?? clock();
    }

    // True while evaluateRequest hides must-revalidate from the library (#54): it still allows storing.
    #mustRevalidateHidden = false;

    override evaluateRequest(request: CachePolicy.Request): CachePolicy.EvaluateRequestResult {
      const directives = directivesOf(this);
      const mustRevalidate = directives['must-revalidate'];
      if (mustRevalidate !== undefined && !this.stale()) {
        delete directives['must-revalidate'];
        this.#mustRevalidateHidden = true;
        try {
          return super.evaluateRequest(request);
        } finally {
          directives['must-revalidate'] = mustRevalidate;
          this.#mustRevalidateHidden = false;
        }
      }
      const result = super.evaluateRequest(request);
      if (result.response && result.revalidation && forbidsStale(this)) {
        return { response: undefined, revalidation: { ...result.revalidation, synchronous: true } };
      }
      return result;
    }

    override maxAge(): number {
      const directives = directivesOf(this);
      const proxyRevalidate = directives['proxy-revalidate'];
      if (proxyRevalidate === undefined) return super.maxAge();
      delete directives['proxy-revalidate'];
      try {
        return super.maxAge();
      } finally {
        directives['proxy-revalidate'] = proxyRevalidate;
      }
    }

    _allowsStoringAuthenticated(): boolean {
      return this.#mustRevalidateHidden || library._allowsStoringAuthenticated.call(this);
    }

    override responseHeaders(): CachePolicy.Headers {
      const internals = this as unknown as ResponseHeaderInternals;
      const headers = internals._copyWithoutHopByHopHeaders(internals._resHeaders);
      const age = this.age();
      // The library's 113 warning for a heuristic lifetime over a day (RFC 7234 §5.5.4), kept to match it.
      if (age > DAY_SECONDS && !internals._hasExplicitExpiration() && this.maxAge() > DAY_SECONDS) {
        headers.warning = `${headers.warning ? `${headers.warning}, ` : ''}113 - "rfc7234 5.5.4"`;
      }
      headers.age = `${Math.round(age)}`;
      headers.date = httpDate(this.now());
      return headers;
    }
  };
}

/**
 * Whether a stored response may be served because the origin failed (RFC 5861 §4 stale-if-error), asked
 * of http-cache-semantics: `revalidatedPolicy` with no response keeps the old policy exactly when its
 * stale-if-error window is open, and throws otherwise.
 */
export function allowsStaleIfError(policy: CachePolicy, request: PolicyRequest): boolean {
  if (forbidsStale(policy)) return false;
  try {
    return policy.revalidatedPolicy(request, undefined).policy === policy;
  } catch {
    return false;
  }
}

/** Whether the response carries a validator, so a stale copy can be refreshed by a 304 (RFC 9111 §4.3.1). */
export function hasValidator(headers: Readonly<Record<string, unknown>>): boolean {
  return headers.etag !== undefined || headers['last-modified'] !== undefined;
}

/** Remaining freshness in whole seconds, negative once stale: RFC 9211's `ttl` parameter. */
export function ttlSeconds(policy: CachePolicy): number {
  return Math.round(policy.maxAge() - policy.age());
}

/** The options every policy of the cache is made with: a shared cache (RFC 9111 §1). */
export const POLICY_OPTIONS: CachePolicy.Options = { shared: true };

// Fields a 304 does not bring into the stored response: the stored body's own (the library's list for
// replaced fields), hop-by-hop ones, and Set-Cookie, which a shared cache never hands to others.
const NOT_ADDED_BY_304: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'content-range',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'set-cookie',
]);

/**
 * RFC 9111 §3.2 and §4.3.4: a 304 adds the fields it carries to the stored response as well as replacing
 * the ones it had. http-cache-semantics 4.3's `revalidatedPolicy` only replaces, so a 304 bringing
 * `Cache-Control: max-age=600` to a response that had no Cache-Control left it stale, revalidated on
 * every request. `refreshed` is what `revalidatedPolicy` returned; the result is it with the 304's new
 * fields added (the same policy when there are none).
 */
export function withFieldsAddedBy304(
  refreshed: CachePolicy,
  notModifiedHeaders: Readonly<Record<string, string | string[]>>,
  request: PolicyRequest,
  Policy: typeof CachePolicy,
): CachePolicy {
  const stored = refreshed.toObject();
  let added: Record<string, string | string[]> | undefined;
  for (const name in notModifiedHeaders) {
    if (name in stored.resh || NOT_ADDED_BY_304.has(name)) continue;
    added ??= {};
    added[name] = notModifiedHeaders[name] as string | string[];
  }
  if (added === undefined) return refreshed;
  return new Policy(request, { status: stored.st, headers: { ...stored.resh, ...added } }, POLICY_OPTIONS);
}
