import { CacheError, type HttpCache, type PurgeSelector } from '@edge451/cache';
import type { PolicyChange } from '@edge451/policy';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { createLogger } from '../cli/logger.js';
import type { EdgeConfig } from '../config/load-config.js';
import { createMetrics } from '../observe/metrics.js';
import { BlockRechecks } from './block-rechecks.js';
import { createEdgeCache, purgeWhenBlocked } from './cache-purging.js';
import type { PrimaryMessage, WorkerMessage } from './cluster-messages.js';
import { openGeo } from './edge-node.js';
import { PolicyReplica, type PolicySnapshot } from './policy-replica.js';
import { startTrafficServer, type TrafficServer } from './traffic-server.js';

type Running = { config: EdgeConfig; logger: Logger; replica: PolicyReplica; cache: HttpCache | undefined };

/**
 * A traffic worker. It reads no file itself: the primary sends the config it validated and the policy
 * snapshot in force, so a worker (re)started at any time serves exactly what the primary enforces. It then
 * follows the primary's policy changes, config reloads and purges, and drains on shutdown.
 */
export function runClusterWorker(): void {
  const send = (message: WorkerMessage) => process.send?.(message);
  let running: Running | undefined;
  let traffic: TrafficServer | undefined;
  // A config reloaded while this worker was starting: applied once its traffic server is up.
  let configWhileStarting: EdgeConfig | undefined;

  const start = async (config: EdgeConfig, snapshot: PolicySnapshot) => {
    const logger = createLogger(config.log.level);
    const replica = PolicyReplica.fromSnapshot(snapshot);
    const cache = createEdgeCache(config);
    running = { config, logger, replica, cache };
    const metrics = createMetrics(cache && (() => cache.stats));
    // Constructing an AggregatorRegistry is what makes prom-client answer the primary's metrics requests.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics.registry]);
    metrics.policyVersion.set(replica.current().version);
    replica.onChange((after) => metrics.policyVersion.set(after.version));
    // Sent once the new snapshot is the one requests read: the primary records a change in force only
    // after every worker has said so.
    replica.onChange((after) => send({ type: 'policy-applied', version: after.version }));
    // Each worker follows the windows of its own copy of the policy with its own timer: its tunnels, its cache.
    const rechecks = new BlockRechecks(replica, logger);
    if (cache !== undefined) purgeWhenBlocked(rechecks, cache, logger);
    const locator = await openGeo(config, logger, metrics);
    traffic = await startTrafficServer(config, {
      locator,
      policy: replica,
      rechecks,
      cache,
      logger,
      metrics,
    });
    if (configWhileStarting !== undefined) {
      running.config = configWhileStarting;
      traffic.useConfig(configWhileStarting);
    }
    send({ type: 'ready', url: traffic.url });
  };

  process.on('message', (message: PrimaryMessage) => {
    switch (message.type) {
      case 'start':
        if (running !== undefined) return;
        start(message.config, message.snapshot).catch((error: unknown) => {
          createLogger('error').fatal({ err: error }, 'worker failed to start');
          process.exit(1);
        });
        return;
      case 'snapshot':
        running?.replica.replace(message.snapshot);
        return;
      case 'change':
        if (running !== undefined && !applyOrResync(running, message.change, message.version)) {
          send({ type: 'resync' });
        }
        return;
      case 'config':
        if (traffic === undefined) {
          // Still starting: confirmed now all the same, since it is applied before the first request is
          // served (the primary waits for every worker it has started, ready or not).
          configWhileStarting = message.config;
        } else {
          if (running !== undefined) running.config = message.config;
          traffic.useConfig(message.config);
        }
        send({ type: 'config-applied', version: message.version });
        return;
      case 'purge':
        void purge(running?.cache, message.selector).then((result) =>
          send({ type: 'purged', id: message.id, ...result }),
        );
        return;
      case 'shutdown':
        void (traffic?.close(running?.config.shutdown.drainMs ?? 0) ?? Promise.resolve()).finally(() =>
          process.exit(0),
        );
        return;
    }
  });
  // Signals that reach the whole process group (or `pkill -f`, which matches the workers' command line too)
  // are the primary's to act on: it coordinates the drain and the reload.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  send({ type: 'hello' });
}

function applyOrResync(running: Running, change: PolicyChange, version: number): boolean {
  try {
    return running.replica.apply(change, version);
  } catch (error) {
    running.logger.warn(
      { err: error, version },
      'policy change did not apply on this worker; asking for a snapshot',
    );
    return false;
  }
}

async function purge(
  cache: HttpCache | undefined,
  selector: PurgeSelector,
): Promise<{ count: number; error?: { message: string; client: boolean } }> {
  if (cache === undefined) return { count: 0 };
  try {
    return { count: await cache.purge(selector) };
  } catch (error) {
    const client = error instanceof CacheError && error.source === 'client';
    return { count: 0, error: { message: (error as Error).message, client } };
  }
}
