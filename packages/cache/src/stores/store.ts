import type CachePolicy from 'http-cache-semantics';

/**
 * One stored response: one Vary variant of one cache key. Plain data, so any backend can serialise it
 * (the body as bytes, the rest as JSON).
 */
export interface StoredResponse {
  /** `makeCacheKey` of the request that filled it. */
  readonly key: string;
  /** Opaque variant identity under the key (the cache's `variantKey`: forwarding scheme/host and Vary'ed headers). */
  readonly variant: string;
  /** Normalised host, for purge by host and prefix. */
  readonly host: string;
  /** Path and query exactly as requested, for purge by prefix. */
  readonly path: string;
  /** Tags from `Surrogate-Key` / `Cache-Tag`, for purge by surrogate key. */
  readonly surrogateKeys: readonly string[];
  /** http-cache-semantics' serialised policy: status, response headers, timing, Vary'ed request headers. */
  readonly policy: CachePolicy.CachePolicyObject;
  readonly body: Buffer;
  /** Epoch ms after which the entry is useless (past freshness, stale windows and revalidation retention). */
  readonly expiresAt: number;
}

/** Which entries `CacheStore.delete` removes. `key` without `variant` removes every variant of the key. */
export type StoreSelector =
  | { readonly kind: 'key'; readonly key: string; readonly variant?: string }
  | { readonly kind: 'host'; readonly host: string; readonly pathPrefix?: string }
  /** Every subdomain of `suffix`, at any depth, not `suffix` itself (a `*.suffix` order pattern). */
  | { readonly kind: 'host-suffix'; readonly suffix: string }
  | { readonly kind: 'surrogate-key'; readonly surrogateKey: string }
  | { readonly kind: 'all' };

/**
 * Where responses are kept: the memory tier here, a Redis tier later. Five small members, like undici's
 * `CacheStore` (get, createWriteStream, delete) plus `used`, so a backend is small to write; every
 * implementation runs the `describeCacheStore` contract suite (packages/cache/test/describe-cache-store.ts).
 * Rules every implementation keeps:
 * - operations may reject; the cache counts the failure and serves from the origin instead;
 * - `get` never returns an entry whose `expiresAt` has passed;
 * - setting an entry with an existing `key` + `variant` replaces it;
 * - a key keeps a bounded number of variants (`DEFAULT_MAX_VARIANTS_PER_KEY` unless configured): setting one
 *   more evicts the key's least recently used (set or `used`) variant. Every lookup of a key walks its
 *   variants (lookup.ts), so without a bound a client choosing a Vary'ed header's value freely (`Vary:
 *   Accept-Language`) made every request for the URL as costly as it liked;
 * - bodies come back byte for byte; `set` takes ownership of the entry (the caller never mutates it after),
 *   and callers of `get` must not mutate what they receive (the memory store hands out the same objects).
 */
export interface CacheStore {
  /**
   * Every variant stored under `key` (empty when none), at most `maxVariantsPerKey` of them. Reading the
   * variants is not a use of each (only `used` is), so the variants a lookup merely looked at keep aging:
   * one client's variants of a popular URL are not kept alive by everybody else's requests. A store that
   * can answer at once (memory) returns the array itself: a hit then costs no promise.
   */
  get(key: string): readonly StoredResponse[] | Promise<readonly StoredResponse[]>;
  /**
   * The cache served (or is revalidating) this variant: it counts as a use for eviction, among the key's
   * variants and overall. Never throws and is not awaited: a shared store may record it in the background
   * or leave recency to its backend.
   */
  used(key: string, variant: string): void;
  /** Stores or replaces an entry; resolves `false` when the store declines it (too large for it). */
  set(entry: StoredResponse): Promise<boolean>;
  /** Removes what `selector` names; resolves with how many entries went. */
  delete(selector: StoreSelector): Promise<number>;
  /** Entries and bytes this store holds, as far as this process knows (a shared store may approximate). */
  readonly stats: { readonly entries: number; readonly bytes: number };
}

/**
 * Variants kept per key when not configured: Fastly documents the same bound ("up to 200 variations of an
 * object"). A lookup walks at most this many; legitimate Vary fields (encodings, a site's languages) stay
 * far below it.
 */
export const DEFAULT_MAX_VARIANTS_PER_KEY = 200;
