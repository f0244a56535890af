import type { PurgeSelector } from '@edge451/cache';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsSource } from '../admin/admin-routes.js';
import type { EdgeConfig } from '../config/load-config.js';
import { createMetrics, createPrimaryMetrics } from '../observe/metrics.js';
import { TrafficWorkers } from './cluster-workers.js';
import type { EdgeNode } from './edge-node.js';
import { closeControlPlane, openControlPlane, startAdmin, warnAboutRestartOnlyChanges } from './edge-node.js';
import { urlOf } from './listen.js';

/**
 * `workers: N | auto`: the primary owns the control plane (admin API, authoritative policy state, audit log)
 * and forks N traffic workers (node:cluster shares the listening port). A policy change is validated and
 * stored here once, then sent to every worker, which applies it incrementally or asks for a full snapshot
 * when it fell behind; so every worker converges on the same version. Workers confirm each version they
 * swap in (`policy-applied`): a change is recorded in force once every live worker has confirmed it. Config
 * reloads are followed the same way (`config-applied`). A worker that does not confirm in time is killed
 * and replaced (cluster-workers.ts).
 */
export async function startClusterPrimary(
  config: EdgeConfig,
  workerCount: number,
  workerArgs: string[],
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<EdgeNode> {
  const metrics = createMetrics();
  const primaryMetrics = createPrimaryMetrics();
  const workers = new TrafficWorkers({ config, args: workerArgs, env, logger, metrics: primaryMetrics });
  const control = await openControlPlane(config, logger, metrics, workers.policyVersions);
  const { policy } = control;
  workers.start(workerCount, policy);

  const purge =
    config.cache === false ? undefined : (selector: PurgeSelector) => workers.purges.run(selector);
  const registry = clusterRegistry(primaryMetrics.registry);
  const isReady = () => workers.ready.size === workerCount;
  const admin = await startAdmin(config, { ...control, purge }, registry, isReady, logger);
  let url: string;
  try {
    url = await workers.allReady(workerCount);
  } catch (error) {
    workers.kill();
    admin.close();
    await closeControlPlane(control);
    throw error;
  }
  workers.serving();
  logger.info(
    { listen: url, admin: urlOf(admin), workers: workerCount, policy_version: policy.current().version },
    'edge451 ready',
  );

  let current = config;
  return {
    url,
    adminUrl: urlOf(admin),
    policy,
    metrics,
    async reload(next) {
      await policy.reload(next.policy);
      const previous = current;
      current = next;
      // "reloaded" is logged once every worker routes with `next` (or the wait's bound is reached).
      await workers.reload(next);
      warnAboutRestartOnlyChanges(previous, next, logger);
    },
    async close() {
      await workers.stop();
      admin.closeAllConnections();
      await new Promise((resolve) => admin.close(resolve));
      await closeControlPlane(control);
    },
  };
}

/** A cluster's /metrics: the workers' registries summed by prom-client's aggregator, then the primary's own. */
function clusterRegistry(own: Registry): MetricsSource {
  const aggregate = new AggregatorRegistry();
  return {
    contentType: aggregate.contentType as string,
    metrics: async () => `${await aggregate.clusterMetrics()}${await own.metrics()}`,
  };
}
