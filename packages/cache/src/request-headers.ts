import { withoutFields } from './header-copy.js';
import { withLinearListWhitespace } from './list-whitespace.js';
import type { PolicyRequest } from './policy.js';
import type { HeaderMap } from './types.js';

/**
 * Client headers that ask an origin (or a framework in front of it) to use another URL, method, host or
 * scheme than the request line says. The key cannot contain them, so they never reach the origin on a
 * cacheable request: otherwise one client could make the origin produce a different resource and have it
 * stored under everybody's key (web cache poisoning). `Forwarded` goes too (its `host=`/`proto=` would be
 * such an input); `X-Forwarded-For` stays. `X-Forwarded-Host` / `-Proto` are the edge's own (DECISIONS 8)
 * and stay, as implicit Vary fields (vary.ts).
 */
const OVERRIDE_HEADERS = [
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-ssl',
  'x-url-scheme',
  'front-end-https',
  'x-host',
  'x-original-host',
  'forwarded',
] as const;
const OVERRIDE_NAMES: ReadonlySet<string> = new Set(OVERRIDE_HEADERS);

/**
 * Client validators are answered by the cache itself (client-conditionals.ts); the origin is asked for a
 * full response it can store, or for a 304 against the cache's own validators.
 */
const CLIENT_CONDITIONAL_HEADERS = ['if-none-match', 'if-modified-since'] as const;

/**
 * Request Cache-Control and Pragma are ignored, as Varnish, nginx and Fastly do: any client could
 * otherwise force origin traffic (`no-cache`, `max-age=0`) for everybody's cache.
 */
const IGNORED_REQUEST_DIRECTIVES: ReadonlySet<string> = new Set(['cache-control', 'pragma']);

/** What a storable request's origin headers leave out, in one set: a lookup per header of every miss. */
const WITHHELD_FROM_STORABLE_REQUEST: ReadonlySet<string> = new Set([
  ...OVERRIDE_HEADERS,
  ...CLIENT_CONDITIONAL_HEADERS,
  ...IGNORED_REQUEST_DIRECTIVES,
]);

/** One header's value as a single string (repeated fields joined with `, `, RFC 9110 §5.3), or undefined. */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The headers the cache hands to `fetchOrigin` for a GET/HEAD it may store. The request directives the
 * cache ignores go too: an origin that saw one client's `Cache-Control` could make its answer from it
 * (even say `Vary: Cache-Control`, which matching cannot honour for a field it ignores), and that answer
 * would be stored for everybody.
 */
export function originRequestHeaders(headers: HeaderMap): HeaderMap {
  return withoutFields(headers, isWithheldFromStorableRequest);
}

/**
 * The headers for a request the cache only forwards (HEAD miss, store failure): overrides removed in
 * either spelling, validators kept.
 */
export function passRequestHeaders(headers: HeaderMap): HeaderMap {
  return withoutFields(headers, isOverride);
}

function isWithheldFromStorableRequest(name: string): boolean {
  return WITHHELD_FROM_STORABLE_REQUEST.has(name) || isCgiSpelledOverride(name);
}

/** An override field, also under the name a CGI-style origin reads it by. */
function isOverride(name: string): boolean {
  return OVERRIDE_NAMES.has(name) || isCgiSpelledOverride(name);
}

/** CGI-style origins (PHP, WSGI) read `X_Original_URL` as X-Original-URL (both HTTP_X_ORIGINAL_URL). */
function isCgiSpelledOverride(name: string): boolean {
  return name.includes('_') && OVERRIDE_NAMES.has(name.replaceAll('_', '-'));
}

/**
 * The request headers http-cache-semantics evaluates: each as `policyHeaderValue` reads it (request
 * directives left out rather than deleted after: a `delete` costs more than the copy of a header).
 */
export function policyRequestHeaders(headers: HeaderMap, host: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name in headers) {
    const value = policyHeaderValue(headers, host, name);
    if (value !== undefined) result[name] = value;
  }
  result.host = host;
  return result;
}

/**
 * One request header as http-cache-semantics sees it, the one place of that rule: the normalised host for
 * `host` (its URL match compares `host`; the client's raw Host never takes part), nothing for the ignored
 * directives, the joined value for the rest (own fields only). Variant matching reads headers this way
 * without building them all.
 */
export function policyHeaderValue(headers: HeaderMap, host: string, name: string): string | undefined {
  if (name === 'host') return host;
  if (IGNORED_REQUEST_DIRECTIVES.has(name) || !Object.hasOwn(headers, name)) return undefined;
  return headerValue(headers, name);
}

/**
 * The request as http-cache-semantics evaluates it (always GET: HEAD is answered from the GET), with its
 * headers built on first use: a hit served from a kept answer (fresh-answers.ts) only reads the few its
 * Vary variant names, through `header`, and never pays for the copy (~2,600 instructions).
 */
export class LazyPolicyRequest implements PolicyRequest {
  readonly method = 'GET';
  readonly url: string;
  // Private fields, not properties: a spread of this request (storageRequest) must not carry the client's
  // headers along.
  readonly #source: HeaderMap;
  readonly #host: string;
  #headers: Record<string, string> | undefined;

  constructor(source: HeaderMap, host: string, path: string) {
    this.#source = source;
    this.#host = host;
    this.url = path;
  }

  get headers(): Record<string, string> {
    this.#headers ??= policyRequestHeaders(this.#source, this.#host);
    return this.#headers;
  }

  /** `headers[name]`, without building `headers`. */
  header(name: string): string | undefined {
    return policyHeaderValue(this.#source, this.#host, name);
  }
}

/** A copy with every defined header as one string (repeated fields joined with `, `). */
export function joinedHeaders(headers: HeaderMap): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name in headers) {
    const value = headerValue(headers, name);
    if (value !== undefined) result[name] = value;
  }
  return result;
}

/**
 * The request headers kept with a stored response: only what the policy needs later (host, the Vary'ed
 * fields, and whether credentials were present), so no visitor's cookies or tokens sit in a shared store.
 */
export function storedRequestHeaders(
  policyHeaders: Record<string, string>,
  varyFields: readonly string[],
): Record<string, string> {
  const kept: Record<string, string> = { host: policyHeaders.host ?? '' };
  // http-cache-semantics only tests whether Authorization was present (RFC 9111 §3.5).
  if (policyHeaders.authorization !== undefined) kept.authorization = 'present';
  for (const field of varyFields) {
    const value = policyHeaders[field];
    if (value !== undefined) kept[field] = value;
  }
  return kept;
}

/**
 * Response headers as http-cache-semantics expects them: single strings, except `set-cookie` which stays
 * a list so it survives storage unchanged, Cache-Control with its directive names in lower case, and the
 * lists the library splits quadratically with their whitespace runs collapsed (list-whitespace.ts). The
 * one place response headers reach the library: fills and 304s both come through here.
 */
export function policyResponseHeaders(headers: HeaderMap): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'set-cookie') result[name] = value;
    else if (name === 'cache-control')
      result[name] = lowerCaseDirectiveNames(headerValue(headers, name) ?? '');
    else result[name] = withLinearListWhitespace(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return result;
}

/**
 * `Private, Max-Age=600` → `private, max-age=600`. Directive names are case-insensitive (RFC 9111 §5.2),
 * but http-cache-semantics 4.3 looks them up as written, so an origin's `Private` or `No-Store` was not
 * seen and a visitor's page was shared. Values are left as they are.
 */
export function lowerCaseDirectiveNames(cacheControl: string): string {
  if (!/[A-Z]/.test(cacheControl)) return cacheControl;
  return cacheControl
    .split(',')
    .map((directive) => {
      const equals = directive.indexOf('=');
      return equals === -1
        ? directive.toLowerCase()
        : directive.slice(0, equals).toLowerCase() + directive.slice(equals);
    })
    .join(',');
}
