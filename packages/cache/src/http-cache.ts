import type CachePolicy from 'http-cache-semantics';
import { bypassOrigin, requestBypassReason } from './bypass.js';
import type { CacheInternals, RequestContext } from './cache-context.js';
import { makeCacheKey } from './cache-key.js';
import { isCacheStatusName } from './cache-status.js';
import type { CancelSignal } from './cancellation.js';
import { obtain, refreshInBackground } from './coalesce.js';
import { CacheError } from './errors.js';
import { createFillBudget } from './fill-budget.js';
import { createFlightTable } from './flight.js';
import { forwardResponse } from './forward.js';
import { lookupStored } from './lookup.js';
import { createPolicyClass } from './policy.js';
import { type PurgeHostForm, toStoreSelector } from './purge-selector.js';
import { hitReply, replyFromStored } from './replies.js';
import { LazyPolicyRequest, passRequestHeaders } from './request-headers.js';
import { createMemoryStore } from './stores/memory-store.js';
import type { CacheStore, StoredResponse } from './stores/store.js';
import type { CacheReply, CacheRequest, ClientSignal, FetchOrigin, HttpCache } from './types.js';
import { createUncacheableMemory } from './uncacheable-memory.js';

const MiB = 1024 * 1024;

// `maxEntryBytes` bounds a body; the memory store counts an entry's headers and bookkeeping too, so it is
// given room for them: a body of exactly maxEntryBytes is stored, as documented.
const ENTRY_METADATA_ALLOWANCE_BYTES = 128 * 1024;

/** Options of `createHttpCache`; every one has a default. */
export interface HttpCacheOptions {
  /** Where responses go; default a memory store of `maxBytes` / `maxEntryBytes`. */
  store?: CacheStore;
  /** Memory store size when `store` is not given; default 256 MiB. */
  maxBytes?: number;
  /** Largest body stored; larger ones stream through uncached. Default 8 MiB (at most `maxBytes`). */
  maxEntryBytes?: number;
  /** Bytes held at once by responses being collected for storage; default min(maxBytes, 64 MiB), at least maxEntryBytes. */
  maxFillBytes?: number;
  /** Cache-Status cache name (an RFC 8941 token); default `edge451`. */
  name?: string;
  /** Epoch-ms clock for freshness and ages; default `Date.now`. Tests inject one instead of sleeping. */
  clock?: () => number;
  /** How long a stale entry with a validator is kept for a 304 refresh; default 10 minutes (nginx `inactive`). */
  staleRetentionMs?: number;
  /** How long a URL whose response could not be stored is not coalesced; default 30 s. */
  uncacheableMemoryMs?: number;
  /** Puts purge selectors' hosts into the form request hosts are stored under; default: accept only that form. */
  purgeHostForm?: PurgeHostForm;
}

/**
 * Builds the shared HTTP cache the edge calls after the policy decision (DECISIONS 12: on by default,
 * memory tier). Checks every option first and throws one `CACHE_OPTIONS_INVALID` error listing all the
 * problems. RFC 9111 rules come from http-cache-semantics in shared-cache mode.
 */
export function createHttpCache(options: HttpCacheOptions = {}): HttpCache {
  const cache = buildInternals(options);
  const { store, counters } = cache;

  /** `serve` without a promise when the store answers at once (see HttpCache.serveNow). */
  function serveNow(
    request: CacheRequest,
    fetchOrigin: FetchOrigin,
    clientSignal: ClientSignal,
  ): CacheReply | Promise<CacheReply> {
    // Every failure is a rejection, as from an async function: callers handle one path.
    try {
      if (typeof clientSignal !== 'function' && clientSignal.aborted) throw clientSignal.reason;
      const signal = () => (typeof clientSignal === 'function' ? clientSignal() : clientSignal);
      const bypass =
        request.method === 'GET' || request.method === 'HEAD' ? requestBypassReason(request) : 'method';
      if (bypass !== undefined) return bypassOrigin(cache, request, fetchOrigin, signal(), bypass);

      const key = makeCacheKey(request);
      const policyRequest = new LazyPolicyRequest(request.headers, request.host, request.path);
      const context: RequestContext = { cache, request, key, policyRequest, fetchOrigin };
      let stored: ReturnType<CacheStore['get']>;
      try {
        stored = store.get(key);
      } catch {
        counters.storeErrors += 1;
        return forwardOnStoreError(context, signal());
      }
      if (Array.isArray(stored)) return answer(context, stored, signal);
      return (stored as Promise<readonly StoredResponse[]>).then(
        (entries) => answer(context, entries, signal),
        () => {
          counters.storeErrors += 1;
          return forwardOnStoreError(context, signal());
        },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The reply for what the store holds under the request's key: from it, or from the origin. */
  function answer(
    context: RequestContext,
    entries: readonly StoredResponse[],
    signal: () => CancelSignal,
  ): CacheReply | Promise<CacheReply> {
    const found = lookupStored(entries, context.policyRequest, cache.policyOf);
    // Only the variant this request uses counts as used: the others a lookup looked at keep aging.
    if ('found' in found) store.used(context.key, found.found.entry.variant);
    switch (found.kind) {
      case 'fresh':
        return hitReply(context, found.found);
      case 'stale-while-revalidate':
        // The refresh gets the entry without this request's header snapshot (its Age/Date would go stale).
        refreshInBackground(context, { entry: found.found.entry, policy: found.found.policy });
        return replyFromStored(context, found.found, 'stale', {
          hit: true,
          detail: 'stale-while-revalidate',
        });
      case 'revalidate':
        return obtain(context, signal(), found.found, 'stale');
      default:
        return obtain(context, signal(), undefined, found.kind);
    }
  }

  return {
    serve: (request, fetchOrigin, signal) => Promise.resolve(serveNow(request, fetchOrigin, signal)),
    serveNow,
    async purge(selector) {
      return store.delete(toStoreSelector(selector, options.purgeHostForm));
    },
    get stats() {
      const { entries, bytes } = store.stats;
      return { entries, bytes, ...counters };
    },
  };
}

/** The store could not be read: the origin answers, nothing is stored (degrade, don't die). */
async function forwardOnStoreError(context: RequestContext, signal: CancelSignal): Promise<CacheReply> {
  const { request } = context;
  const headers = passRequestHeaders(request.headers);
  const response = await context.fetchOrigin({ method: request.method, headers }, signal);
  const facts = { fwd: 'miss' as const, fwdStatus: response.status, detail: 'store-error' };
  return forwardResponse(context.cache.name, request, response, 'miss', facts, 'store-error');
}

function buildInternals(options: HttpCacheOptions): CacheInternals {
  const maxBytes = options.maxBytes ?? 256 * MiB;
  const maxEntryBytes = options.maxEntryBytes ?? Math.min(8 * MiB, maxBytes);
  const maxFillBytes = options.maxFillBytes ?? Math.max(maxEntryBytes, Math.min(maxBytes, 64 * MiB));
  const name = options.name ?? 'edge451';
  const staleRetentionMs = options.staleRetentionMs ?? 10 * 60_000;
  const uncacheableMemoryMs = options.uncacheableMemoryMs ?? 30_000;
  const problems = [
    ...sizeProblems({ maxBytes, maxEntryBytes, maxFillBytes }),
    ...(isCacheStatusName(name)
      ? []
      : [`name must be an RFC 8941 token such as "edge451", got ${JSON.stringify(name)}`]),
    ...durationProblems({ staleRetentionMs, uncacheableMemoryMs }),
  ];
  if (options.clock !== undefined && typeof options.clock !== 'function')
    problems.push('clock must be a function');
  if (problems.length > 0) {
    throw new CacheError(
      'CACHE_OPTIONS_INVALID',
      `invalid cache options:\n- ${problems.join('\n- ')}`,
      'internal',
    );
  }
  const clock = options.clock ?? Date.now;
  const Policy = createPolicyClass(clock);
  const livePolicies = new WeakMap<StoredResponse, CachePolicy>();
  return {
    name,
    store:
      options.store ??
      createMemoryStore({
        maxBytes,
        maxEntryBytes: Math.min(maxBytes, maxEntryBytes + ENTRY_METADATA_ALLOWANCE_BYTES),
        clock,
      }),
    clock,
    Policy,
    maxEntryBytes,
    staleRetentionMs,
    budget: createFillBudget(maxFillBytes),
    flights: createFlightTable(),
    uncacheable: createUncacheableMemory(uncacheableMemoryMs, clock),
    counters: { storeErrors: 0, collapsedRequests: 0, backgroundRefreshes: 0, backgroundRefreshErrors: 0 },
    policyOf(entry) {
      let policy = livePolicies.get(entry);
      if (policy === undefined) {
        policy = Policy.fromObject(entry.policy);
        livePolicies.set(entry, policy);
      }
      return policy;
    },
  };
}

function sizeProblems(sizes: Record<'maxBytes' | 'maxEntryBytes' | 'maxFillBytes', number>): string[] {
  const problems: string[] = [];
  for (const [option, value] of Object.entries(sizes)) {
    if (!Number.isSafeInteger(value) || value <= 0)
      problems.push(`${option} must be a positive integer of bytes, got ${value}`);
  }
  if (sizes.maxEntryBytes > sizes.maxBytes) {
    problems.push(`maxEntryBytes (${sizes.maxEntryBytes}) must not exceed maxBytes (${sizes.maxBytes})`);
  }
  if (sizes.maxFillBytes < sizes.maxEntryBytes) {
    problems.push(
      `maxFillBytes (${sizes.maxFillBytes}) must be at least maxEntryBytes (${sizes.maxEntryBytes})`,
    );
  }
  return problems;
}

function durationProblems(durations: Record<string, number>): string[] {
  return Object.entries(durations)
    .filter(([, value]) => !Number.isSafeInteger(value) || value < 0)
    .map(([option, value]) => `${option} must be a whole number of milliseconds >= 0, got ${value}`);
}
