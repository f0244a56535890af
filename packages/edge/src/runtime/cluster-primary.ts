import cluster, { type Worker } from 'node:cluster';
import type { PurgeSelector } from '@edge451/cache';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { EdgeConfig } from '../config/load-config.js';
import { createMetrics } from '../observe/metrics.js';
import type { PrimaryMessage, WorkerMessage } from './cluster-messages.js';
import { ClusterPurges, sendToWorker } from './cluster-purges.js';
import type { EdgeNode } from './edge-node.js';
import { openControlPlane, startAdmin, warnAboutRestartOnlyChanges } from './edge-node.js';
import { IN_FORCE_WAIT_MS, within } from './in-force.js';
import { urlOf } from './listen.js';
import { snapshotOf } from './policy-replica.js';
import { WorkerVersions } from './worker-versions.js';

/**
 * `workers: N | auto`: the primary owns the control plane (admin API, authoritative policy state, audit log)
 * and forks N traffic workers (node:cluster shares the listening port). A policy change is validated and
 * stored here once, then sent to every worker, which applies it incrementally or asks for a full snapshot
 * when it fell behind; so every worker converges on the same version. Workers confirm each version they
 * swap in (`policy-applied`): a change is recorded in force once every live worker has confirmed it. Config
 * reloads are followed the same way (`config-applied`).
 */
export async function startClusterPrimary(
  config: EdgeConfig,
  workerCount: number,
  workerArgs: string[],
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<EdgeNode> {
  const metrics = createMetrics();
  const pidOf = (worker: Worker) => worker.process.pid;
  const policyVersions = new WorkerVersions(pidOf);
  const configVersions = new WorkerVersions(pidOf);
  const control = await openControlPlane(config, logger, metrics, policyVersions);
  const { policy } = control;
  const ready = new Map<Worker, string>();
  const startup = { failed: 0, done: false };
  let stopping = false;
  let current = config;
  let configVersion = 0;

  const broadcast = (message: PrimaryMessage) => {
    for (const worker of Object.values(cluster.workers ?? {})) if (worker) sendToWorker(worker, message);
  };
  policy.onChange((after, _before, change) => {
    broadcast(
      change === undefined
        ? { type: 'snapshot', snapshot: snapshotOf(after) }
        : { type: 'change', change, version: after.version },
    );
  });

  const purges = new ClusterPurges(() => [...ready.keys()]);
  cluster.setupPrimary({ exec: process.argv[1], args: workerArgs });
  const fork = () => {
    const worker = cluster.fork(env);
    const startedAt = Date.now();
    worker.on('error', (error) =>
      logger.warn({ err: error, worker_pid: worker.process.pid }, 'worker IPC error'),
    );
    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'hello': {
          const snapshot = snapshotOf(policy.current());
          policyVersions.started(worker, snapshot.version);
          configVersions.started(worker, configVersion);
          sendToWorker(worker, { type: 'start', config: current, snapshot });
          return;
        }
        case 'resync':
          sendToWorker(worker, { type: 'snapshot', snapshot: snapshotOf(policy.current()) });
          return;
        case 'ready':
          ready.set(worker, message.url);
          return;
        case 'policy-applied':
          policyVersions.applied(worker, message.version);
          return;
        case 'purged':
          purges.settle(worker, message);
          return;
        case 'config-applied':
          configVersions.applied(worker, message.version);
          return;
      }
    });
    worker.on('exit', (code, signal) => {
      ready.delete(worker);
      policyVersions.gone(worker);
      configVersions.gone(worker);
      purges.forget(worker);
      if (stopping) return;
      if (!startup.done) {
        // A worker that dies before the node is ready (port taken, bad file) would die again: give up.
        startup.failed += 1;
        return;
      }
      // A worker that keeps dying right after start is restarted ever more slowly (up to 10 s), not in a hot loop.
      const livedMs = Date.now() - startedAt;
      restartDelayMs = livedMs > 10_000 ? 0 : Math.min(Math.max(restartDelayMs * 2, 100), 10_000);
      logger.error(
        { worker_pid: worker.process.pid, code, signal, restart_in_ms: restartDelayMs },
        'worker died; starting another',
      );
      setTimeout(() => {
        if (!stopping) fork();
      }, restartDelayMs);
    });
  };
  let restartDelayMs = 0;
  for (let index = 0; index < workerCount; index += 1) fork();

  const aggregate = new AggregatorRegistry();
  const registry = {
    contentType: aggregate.contentType as string,
    metrics: async () => (await aggregate.clusterMetrics()) as string,
  };
  const purge = config.cache === false ? undefined : (selector: PurgeSelector) => purges.run(selector);
  const admin = await startAdmin(
    config,
    { ...control, purge },
    registry,
    () => ready.size === workerCount,
    logger,
  );
  let url: string;
  try {
    url = await allReady(ready, workerCount, startup);
  } catch (error) {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    admin.close();
    control.locator.close();
    throw error;
  }
  startup.done = true;
  logger.info(
    { listen: url, admin: urlOf(admin), workers: workerCount, policy_version: policy.current().version },
    'edge451 ready',
  );

  return {
    url,
    adminUrl: urlOf(admin),
    policy,
    metrics,
    async reload(next) {
      await policy.reload(next.policy);
      const previous = current;
      // From here a worker that says hello starts with `next`; one already starting gets it as a config
      // message and applies it once it is up. "reloaded" is logged once every worker routes with it.
      current = next;
      configVersion += 1;
      broadcast({ type: 'config', version: configVersion, config: next });
      await confirmedInTime(configVersions, configVersion, logger);
      warnAboutRestartOnlyChanges(previous, next, logger);
    },
    async close() {
      stopping = true;
      const exits = Object.values(cluster.workers ?? {}).map(
        (worker) =>
          new Promise((resolve) => (worker?.isDead() ? resolve(undefined) : worker?.once('exit', resolve))),
      );
      broadcast({ type: 'shutdown' });
      await Promise.all(exits);
      admin.closeAllConnections();
      await new Promise((resolve) => admin.close(resolve));
      control.locator.close();
    },
  };
}

/** Waits (at most IN_FORCE_WAIT_MS, as for a policy change) until every worker routes with `version`. */
async function confirmedInTime(versions: WorkerVersions<Worker>, version: number, logger: Logger) {
  if ((await within(versions.inForce(version), IN_FORCE_WAIT_MS)) !== undefined) return;
  logger.error(
    { config_version: version, waited_ms: IN_FORCE_WAIT_MS, worker_pids: versions.lagging(version) },
    'config reload not confirmed by every worker in time',
  );
}

async function allReady(
  ready: Map<Worker, string>,
  count: number,
  startup: { failed: number },
): Promise<string> {
  while (ready.size < count) {
    if (startup.failed > 0)
      throw new Error(`${startup.failed} worker(s) failed to start; see their log lines`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return [...ready.values()][0] ?? '';
}
