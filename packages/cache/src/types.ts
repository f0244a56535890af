import type { Readable } from 'node:stream';
import type { CancelSignal } from './cancellation.js';

/** Header map as node:http gives it: lower-case names, `set-cookie` as an array. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * What the cache phase did with a request, in the words used by `Cache-Status`, log fields and metric
 * labels: `hit` fresh from cache · `stale` served stale (stale-while-revalidate or stale-if-error) ·
 * `miss` the origin's full response was used · `revalidated` the stored body was reused after a 304 ·
 * `bypass` the request was not a cache request at all (method, Range, preconditions, content).
 */
export type CacheOutcome = 'hit' | 'stale' | 'miss' | 'revalidated' | 'bypass';

/**
 * Why a response was not stored (or a request not cached): a closed set, reported as `detail=` in
 * `Cache-Status`, in `CacheReply.notStored` and as a log/metric label.
 * - `method`: not a GET (other methods bypass; HEAD misses are forwarded as HEAD and not stored)
 * - `range` / `precondition`: the request carried `Range`/`If-Range` or `If-Match`/`If-Unmodified-Since`
 *   and was passed through untouched
 * - `body`: a GET or HEAD carried content; passed through, neither served from nor stored in the cache
 * - `request-no-store`: the request said `Cache-Control: no-store`; passed through, nothing stored
 * - `origin-no-store` / `private`: the origin said so (RFC 9111 §5.2.2.5, §5.2.2.7)
 * - `authorization`: the request carried credentials and the response did not allow sharing (§3.5)
 * - `set-cookie`: responses that set cookies are never shared
 * - `vary-star`: `Vary: *` can never be matched (§4.1)
 * - `status`: a status code the cache does not understand or may not store by default (206, 5xx…)
 * - `no-freshness`: storable, but neither fresh nor revalidatable (no lifetime, no validator)
 * - `too-large`: the body is above `maxEntryBytes` (known from Content-Length, or found while streaming)
 * - `fill-limit`: too many bytes were being collected for storage at once (`maxFillBytes`)
 * - `incomplete`: the origin body failed or ended short, so nothing partial is stored
 * - `store-error`: the store failed; the request was served from the origin
 */
export type NotStoredReason =
  | 'method'
  | 'range'
  | 'precondition'
  | 'body'
  | 'request-no-store'
  | 'origin-no-store'
  | 'private'
  | 'authorization'
  | 'set-cookie'
  | 'vary-star'
  | 'status'
  | 'no-freshness'
  | 'too-large'
  | 'fill-limit'
  | 'incomplete'
  | 'store-error';

/** The request as the cache phase sees it, after the policy decision allowed it. */
export interface CacheRequest {
  /** As received; methods are case-sensitive (RFC 9110 §9.1), only `GET` and `HEAD` use the cache. */
  method: string;
  /** Already normalised by the edge (`normalizeHost` of @edge451/policy): the only host input to the key. */
  host: string;
  /** Origin-form path and query exactly as received, e.g. `/a/b?x=1`. Never re-encoded. */
  path: string;
  /** The client's request headers (node:http `req.headers`, lower-case names). */
  headers: HeaderMap;
  /**
   * The request carries content (a non-zero Content-Length, or Transfer-Encoding, which the edge does not
   * forward as a header). Default false.
   */
  hasBody?: boolean;
}

/** What `FetchOrigin` resolves to: the origin's status line, headers and streamed body. */
export interface OriginResponse {
  status: number;
  headers: HeaderMap;
  body: Readable;
}

/**
 * Sends one request to the origin (the edge's upstream phase). `request.headers` are the headers the cache
 * wants sent: the client's, minus client conditionals and URL/method/host override headers, plus the
 * validators of a stored response when revalidating. The edge adds its own forwarding headers and Host.
 * Rejects on connect error or timeout (the edge's errors carry a string `code` and `source: 'origin'`);
 * that rejection is what triggers stale-if-error. Must honour `signal`: the cache aborts it when nobody
 * is waiting for the response any more.
 */
export type FetchOrigin = (
  request: { headers: HeaderMap; method: string },
  signal: CancelSignal,
) => Promise<OriginResponse>;

/** The client's abort signal, or a function that makes it on first use. */
export type ClientSignal = CancelSignal | (() => CancelSignal);

/** How a store attempt ended: `stored`, or the reason it was not. */
export type StoreResult = 'stored' | NotStoredReason;

/** What the edge sends to the client for a request that went through the cache phase. */
export interface CacheReply {
  status: number;
  /**
   * Headers to send: `Age` set, `Cache-Status` included, surrogate headers removed. Hop-by-hop headers are
   * the edge's job. A new object for every reply, which the caller may change, unless `headersShared`.
   */
  headers: Record<string, string | string[]>;
  /**
   * Set when `headers` is shared by other replies (fresh hits of one stored response within the same
   * second): it is frozen, so copy it to change it. The same object comes back until any field changes,
   * so a caller may key its own work on it.
   */
  headersShared?: true;
  /** `null` for HEAD and 304; a Buffer for stored bodies; a stream for bodies coming from the origin. */
  body: Readable | Buffer | null;
  outcome: CacheOutcome;
  /** Why the response was not stored, when that was known before the headers were sent. */
  notStored?: NotStoredReason;
  /** The RFC 9211 `Cache-Status` member this cache added, e.g. `edge451; hit; ttl=42`. */
  cacheStatus: string;
  /** True when this request waited for another request's origin fetch and reused its response. */
  collapsed?: boolean;
  /**
   * Settles when the store attempt for this response ends: `stored`, or the reason it was abandoned
   * (e.g. `too-large` found mid-stream, `store-error`). Present only when the response was admitted for
   * storage; never rejects. The record phase may await it to log the final result.
   */
  storing?: Promise<StoreResult>;
}

/**
 * Which entries `purge` removes.
 * - `{ url }`: one URL, all its Vary variants. `https://host/path?q`, `http://host/path` or `host/path`;
 *   hosts (here and below) go through the cache's `purgeHostForm`, the path is compared exactly as received.
 * - `{ host }`: every entry of that (normalised) host.
 * - `{ hostSuffix }`: every entry of every subdomain of that host, at any depth, not the host itself
 *   (what a `*.example.com` order pattern covers).
 * - `{ prefix }`: host immediately followed by a path prefix, e.g. `example.com/images/` removes
 *   `/images/a.png` and `/images/?page=2` on example.com only. Must contain the `/` after the host.
 * - `{ surrogateKey }`: every entry tagged with that key by the origin's `Surrogate-Key` or `Cache-Tag`.
 * - `{ all: true }`: everything.
 */
export type PurgeSelector =
  | { url: string }
  | { host: string }
  | { hostSuffix: string }
  | { prefix: string }
  | { surrogateKey: string }
  | { all: true };

/** Counters and gauges of one HttpCache, read at any time (cheap). */
export interface HttpCacheStats {
  /** Stored responses (each Vary variant counts). */
  entries: number;
  /** Bytes the store accounts for (bodies plus metadata); at most `maxBytes` for the memory store. */
  bytes: number;
  /** Store operations that failed (get, set, delete); each was degraded to origin traffic. */
  storeErrors: number;
  /** Requests answered from another request's origin fetch (coalesced misses and revalidations). */
  collapsedRequests: number;
  /** stale-while-revalidate refreshes started in the background. */
  backgroundRefreshes: number;
  /** Background refreshes that failed (origin error); the stale entry stays until it expires. */
  backgroundRefreshErrors: number;
}

/** The shared HTTP cache: the `cacheLookup` and `store` phases of the edge's lifecycle. */
export interface HttpCache {
  /**
   * Runs the cache phase for one request the policy allowed: answers from the store, or calls
   * `fetchOrigin` (at most once per coalesced miss; a revalidation answered 304 without a match may take a
   * second, unconditional call) and stores what may be stored while streaming it to the client.
   * Rejects with `signal.reason` when the client goes away before the reply is ready, and with
   * `fetchOrigin`'s own error when the origin fails and no stale response may be used.
   * `signal` may be a function returning it: it is then called only when the request needs the origin,
   * so a hit never pays for making one.
   */
  serve(request: CacheRequest, fetchOrigin: FetchOrigin, signal: ClientSignal): Promise<CacheReply>;
  /**
   * `serve`, with the reply itself instead of a promise when the store answers at once (a memory store's
   * fresh or stale-while-revalidate hit, or the 304 of one): a hit then costs no promise and no turn of
   * the microtask queue. Everything else, failures included, comes as `serve`'s promise.
   */
  serveNow(
    request: CacheRequest,
    fetchOrigin: FetchOrigin,
    signal: ClientSignal,
  ): CacheReply | Promise<CacheReply>;
  /** Removes entries; resolves with how many went. Rejects with `CACHE_PURGE_INVALID` on a malformed selector. */
  purge(selector: PurgeSelector): Promise<number>;
  readonly stats: HttpCacheStats;
}
