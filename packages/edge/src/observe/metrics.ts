import type { HttpCacheStats } from '@edge451/cache';
import { Counter, Gauge, Registry } from 'prom-client';
import { TalliedCounter } from './tallied-counter.js';
import { TalliedHistogram } from './tallied-histogram.js';

/**
 * The node's Prometheus metrics, on one registry so several edges can live in one process (tests).
 * Label names reuse the request context's words: `outcome`, `order_id`, `country`, `code`.
 * Gauges that describe shared state aggregate with `max` across cluster workers; counters and the
 * per-worker cache sizes sum. `cacheStats` is the process's cache, when it has one.
 */
export function createMetrics(cacheStats?: () => HttpCacheStats) {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    requests: new TalliedCounter({
      name: 'edge451_requests_total',
      help: 'Requests by outcome: proxied, hit, miss, blocked, rejected, redirected, error, aborted, cut.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    duration: new TalliedHistogram({
      name: 'edge451_request_duration_seconds',
      help: 'Time from request to last byte handed to the socket, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    blocks: new TalliedCounter({
      name: 'edge451_blocks_total',
      help: 'Blocked requests by order and client country.',
      labelNames: ['order_id', 'country'] as const,
      registers,
    }),
    cutByBlock: new Counter({
      name: 'edge451_cut_by_block_total',
      help: 'Open WebSocket upgrades (kind="websocket") and responses still being sent (kind="response") cut because a block came into force for their host and client country, by order and country.',
      labelNames: ['kind', 'order_id', 'country'] as const,
      registers,
    }),
    originErrors: new Counter({
      name: 'edge451_origin_errors_total',
      help: 'Failed origin requests by error code.',
      labelNames: ['code'] as const,
      registers,
    }),
    clientSendTimeouts: new Counter({
      name: 'edge451_client_send_timeouts_total',
      help: 'Client connections destroyed because they took none of the bytes the edge had for them for clientTimeouts.sendMs.',
      registers,
    }),
    malformedForwarding: new Counter({
      name: 'edge451_forwarding_malformed_total',
      help: 'Requests from trusted proxies whose forwarding header was unusable (the peer address was used).',
      registers,
    }),
    policyVersion: new Gauge({
      name: 'edge451_policy_version',
      help: 'Version of the policy snapshot in force.',
      aggregator: 'max',
      registers,
    }),
    geoBuildTime: new Gauge({
      name: 'edge451_geo_database_build_timestamp_seconds',
      help: 'Build date of the geo database in use (Unix seconds).',
      aggregator: 'max',
      registers,
    }),
    // Read from the cache at scrape time rather than updated on the request path.
    cacheEntries: new Gauge({
      name: 'edge451_cache_entries',
      help: 'Responses held by the memory cache (each Vary variant counts).',
      registers,
      collect() {
        this.set(cacheStats?.().entries ?? 0);
      },
    }),
    cacheBytes: new Gauge({
      name: 'edge451_cache_bytes',
      help: 'Bytes the memory cache accounts for (bodies and metadata), at most cache.maxBytes.',
      registers,
      collect() {
        this.set(cacheStats?.().bytes ?? 0);
      },
    }),
    cacheStoreErrors: cacheCounter(
      'edge451_cache_store_errors_total',
      'Cache store operations that failed (each request was served from the origin instead).',
      () => cacheStats?.().storeErrors,
      registers,
    ),
    cacheCollapsedRequests: cacheCounter(
      'edge451_cache_collapsed_requests_total',
      "Requests answered from another request's origin fetch (coalesced misses and revalidations).",
      () => cacheStats?.().collapsedRequests,
      registers,
    ),
    cacheBackgroundRefreshes: cacheCounter(
      'edge451_cache_background_refreshes_total',
      'stale-while-revalidate refreshes started in the background.',
      () => cacheStats?.().backgroundRefreshes,
      registers,
    ),
    cacheBackgroundRefreshErrors: cacheCounter(
      'edge451_cache_background_refresh_errors_total',
      'Background refreshes that failed (the stale entry stays until it expires).',
      () => cacheStats?.().backgroundRefreshErrors,
      registers,
    ),
    geoReloadErrors: new Counter({
      name: 'edge451_geo_reload_errors_total',
      help: 'Geo database replacements refused (the previous database stayed in use).',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * What only a cluster primary counts, on a registry of its own that its /metrics adds to the workers' sum
 * (the families of `createMetrics()` are the workers' to report).
 */
export function createPrimaryMetrics() {
  const registry = new Registry();
  const hungWorkersKilled = new Counter({
    name: 'edge451_hung_workers_killed_total',
    help: 'Traffic workers killed (SIGKILL) for not confirming a policy version (unconfirmed="policy"), a reloaded config (unconfirmed="config") or a purge (unconfirmed="purge") within workerConfirmMs, or, a replacement worker, for not listening within workerStartMs (unconfirmed="start").',
    labelNames: ['unconfirmed'] as const,
    registers: [registry],
  });
  // Every series exists from the start, so an alert on its increase sees the first kill.
  for (const unconfirmed of ['policy', 'config', 'purge', 'start'] as const)
    hungWorkersKilled.inc({ unconfirmed }, 0);
  return { registry, hungWorkersKilled };
}

export type PrimaryMetrics = ReturnType<typeof createPrimaryMetrics>;

/** A counter the cache keeps itself (`HttpCacheStats`), read at scrape time like the cache gauges. */
function cacheCounter(
  name: string,
  help: string,
  read: () => number | undefined,
  registers: Registry[],
): Counter {
  return new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read() ?? 0);
    },
  });
}
