import { createHttpCache, type HttpCache, type PurgeSelector } from '@edge451/cache';
import { diffBlockedHosts, normalizeHost } from '@edge451/policy';
import type { Logger } from 'pino';
import type { EdgeConfig } from '../config/load-config.js';
import { blockCause, type Rechecks } from './block-rechecks.js';

/** The process's shared cache, or undefined when `cache: false` (DECISIONS #12: on by default). */
export function createEdgeCache(config: EdgeConfig): HttpCache | undefined {
  if (config.cache === false) return undefined;
  return createHttpCache({
    maxBytes: config.cache.maxBytes,
    maxEntryBytes: config.cache.maxEntryBytes,
    purgeHostForm: storedHostOf,
  });
}

/** An operator's purge host as requests to it are stored: the edge's one rule for hosts. */
function storedHostOf(host: string): string | undefined {
  const normalized = normalizeHost(host);
  return normalized.ok ? normalized.host : undefined;
}

/** An order pattern as a purge selector: `*.example.com` covers the subdomains, a name itself. */
export function purgeSelectorFor(pattern: string): PurgeSelector {
  return pattern.startsWith('*.') ? { hostSuffix: pattern.slice(2) } : { host: pattern };
}

/**
 * When an order or notification starts blocking a host, its cached entries go ("stop serving it from the
 * CDN"), unless the order says `purgeCache: false`. The decision already runs before the cache, so this is
 * about not keeping the content, not about serving it. A block starts with the change that makes it, or,
 * for an order whose window opens later, at its `from`: the entries allowed clients stored until then go
 * then (block-rechecks.ts says when).
 */
export function purgeWhenBlocked(rechecks: Rechecks, cache: HttpCache, logger: Logger): void {
  rechecks.onRecheck(({ policy: after, at, before, beforeAt, reason }) => {
    const patterns = diffBlockedHosts(before, after, { beforeAt, afterAt: at });
    if (patterns.length === 0) return;
    Promise.all(patterns.map((pattern) => cache.purge(purgeSelectorFor(pattern)))).then(
      (counts) => {
        const purged = counts.reduce((sum, count) => sum + count, 0);
        logger.info(
          { patterns, purged, policy_version: after.version, reason: blockCause(reason) },
          'purged newly blocked hosts',
        );
      },
      (error: unknown) => logger.error({ err: error, patterns }, 'purge of newly blocked hosts failed'),
    );
  });
}
