/** Stable, greppable error codes of @edge451/cache. */
export type CacheErrorCode = 'CACHE_OPTIONS_INVALID' | 'CACHE_PURGE_INVALID' | 'CACHE_KEY_INVALID';

/**
 * The one error type this package throws on purpose. `source` says whose mistake it is, as the edge's
 * `EdgeError` does: `internal` for configuration and programming errors, `client` for bad admin input
 * (an admin API answers it with 400).
 */
export class CacheError extends Error {
  override readonly name = 'CacheError';

  constructor(
    readonly code: CacheErrorCode,
    message: string,
    readonly source: 'client' | 'internal',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
