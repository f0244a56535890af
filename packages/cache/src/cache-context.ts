import type CachePolicy from 'http-cache-semantics';
import type { FillBudget } from './fill-budget.js';
import type { FlightTable } from './flight.js';
import type { LazyPolicyRequest } from './request-headers.js';
import type { CacheStore, StoredResponse } from './stores/store.js';
import type { CacheRequest, FetchOrigin, HttpCacheStats } from './types.js';
import type { UncacheableMemory } from './uncacheable-memory.js';

/** Counters exposed through `HttpCache.stats` (the store supplies entries and bytes). */
export type CacheCounters = Omit<HttpCacheStats, 'entries' | 'bytes'>;

/** Everything one HttpCache shares across requests, built once by `createHttpCache`. */
export interface CacheInternals {
  /** Cache-Status cache name. */
  readonly name: string;
  readonly store: CacheStore;
  readonly clock: () => number;
  readonly Policy: typeof CachePolicy;
  readonly maxEntryBytes: number;
  readonly staleRetentionMs: number;
  readonly budget: FillBudget;
  readonly flights: FlightTable;
  readonly uncacheable: UncacheableMemory;
  readonly counters: CacheCounters;
  /** The live policy of a stored entry (rebuilt from its serialised form once per entry object). */
  policyOf(entry: StoredResponse): CachePolicy;
}

/** One GET/HEAD going through the cache phase. */
export interface RequestContext {
  readonly cache: CacheInternals;
  readonly request: CacheRequest;
  readonly key: string;
  /** The request as http-cache-semantics evaluates it (always GET: HEAD is answered from the GET). */
  readonly policyRequest: LazyPolicyRequest;
  readonly fetchOrigin: FetchOrigin;
}
