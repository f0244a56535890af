// The public API of @edge451/cache: other packages import nothing else.
export { makeCacheKey } from './cache-key.js';
export { Cancellation, type CancelSignal } from './cancellation.js';
export { CacheError, type CacheErrorCode } from './errors.js';
export { createHttpCache, type HttpCacheOptions } from './http-cache.js';
export { createMemoryStore, type MemoryStoreOptions } from './stores/memory-store.js';
export {
  type CacheStore,
  DEFAULT_MAX_VARIANTS_PER_KEY,
  type StoredResponse,
  type StoreSelector,
} from './stores/store.js';
export type {
  CacheOutcome,
  CacheReply,
  CacheRequest,
  ClientSignal,
  FetchOrigin,
  HeaderMap,
  HttpCache,
  HttpCacheStats,
  NotStoredReason,
  OriginResponse,
  PurgeSelector,
  StoreResult,
} from './types.js';
