import { CacheError, type PurgeSelector } from '@edge451/cache';
import type { PolicyChange } from '@edge451/policy';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { type EdgeConfig, loadConfig } from '../config/load-config.js';
import { createMetrics } from '../observe/metrics.js';
import { createEdgeCache, purgeWhenBlocked } from './cache-purging.js';
import type { PrimaryMessage, WorkerMessage } from './cluster-messages.js';
import { openGeo } from './edge-node.js';
import { PolicyReplica } from './policy-replica.js';
import { startTrafficServer, type TrafficServer } from './traffic-server.js';

/**
 * A traffic worker: waits for the primary's policy snapshot, then serves requests with its own geo reader
 * and follows the primary's policy changes. Exits 0 after draining when the primary says shutdown.
 */
export function runClusterWorker(config: EdgeConfig, logger: Logger): void {
  const send = (message: WorkerMessage) => process.send?.(message);
  let replica: PolicyReplica | undefined;
  let traffic: TrafficServer | undefined;
  let current = config;
  const cache = createEdgeCache(config);

  const start = async (first: PolicyReplica) => {
    const metrics = createMetrics();
    AggregatorRegistry.setRegistries([metrics.registry]);
    metrics.policyVersion.set(first.current().version);
    first.onChange((after) => metrics.policyVersion.set(after.version));
    const locator = await openGeo(current, logger, metrics);
    if (cache !== undefined) purgeWhenBlocked(first, cache, logger);
    traffic = await startTrafficServer(current, { locator, policy: first, cache, logger, metrics });
    send({ type: 'ready', url: traffic.url });
  };

  process.on('message', (message: PrimaryMessage) => {
    switch (message.type) {
      case 'snapshot':
        if (replica === undefined) {
          replica = PolicyReplica.fromSnapshot(message.snapshot);
          start(replica).catch((error: unknown) => {
            logger.fatal({ err: error }, 'worker failed to start');
            process.exit(1);
          });
        } else replica.replace(message.snapshot);
        return;
      case 'change':
        if (replica !== undefined && !applyOrResync(replica, message.change, message.version, logger)) {
          send({ type: 'hello' });
        }
        return;
      case 'config':
        loadConfig(current.file).then(
          (next) => {
            current = next;
            traffic?.useConfig(next);
          },
          (error: unknown) => logger.error({ err: error }, 'worker could not reload the config'),
        );
        return;
      case 'purge':
        purgeFor(message.id, message.selector);
        return;
      case 'shutdown':
        void (traffic?.close(current.shutdown.drainMs) ?? Promise.resolve()).finally(() => process.exit(0));
        return;
    }
  });
  function purgeFor(id: number, selector: PurgeSelector): void {
    if (cache === undefined) return void send({ type: 'purged', id, count: 0 });
    cache.purge(selector).then(
      (count) => send({ type: 'purged', id, count }),
      (error: unknown) => {
        const client = error instanceof CacheError && error.source === 'client';
        send({ type: 'purged', id, count: 0, error: { message: (error as Error).message, client } });
      },
    );
  }
  // SIGTERM/SIGINT reach the whole process group; the primary coordinates the drain.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  send({ type: 'hello' });
}

function applyOrResync(
  replica: PolicyReplica,
  change: PolicyChange,
  version: number,
  logger: Logger,
): boolean {
  try {
    return replica.apply(change, version);
  } catch (error) {
    logger.warn({ err: error, version }, 'policy change did not apply on this worker; asking for a snapshot');
    return false;
  }
}
