import type { Server } from 'node:http';
import { join } from 'node:path';
import type { PurgeSelector } from '@edge451/cache';
import { type CountryLocator, openCountryLocator } from '@edge451/geo';
import type { Logger } from 'pino';
import { createAdminServer } from '../admin/admin-http.js';
import type { MetricsSource } from '../admin/admin-routes.js';
import type { EdgeConfig } from '../config/load-config.js';
import { createMetrics, type Metrics } from '../observe/metrics.js';
import { AuditLog } from './audit-log.js';
import { BlockRechecks } from './block-rechecks.js';
import { createEdgeCache, purgeWhenBlocked } from './cache-purging.js';
import { type EnforcementWatch, inThisProcess } from './in-force.js';
import { listen, urlOf } from './listen.js';
import { PolicyState } from './policy-state.js';
import { lockStateDir, type StateLock } from './state-lock.js';
import { startTrafficServer } from './traffic-server.js';

export type EdgeNode = {
  /** `http://host:port` of the traffic listener. */
  readonly url: string;
  /** `http://host:port` of the admin listener. */
  readonly adminUrl: string;
  readonly policy: PolicyState;
  readonly metrics: Metrics;
  /** Re-reads config and policy files (SIGHUP). Rejects, changing nothing, when either is invalid. */
  reload(config: EdgeConfig): Promise<void>;
  /** Stops accepting, drains in-flight requests up to `shutdown.drainMs`, then closes everything (SIGTERM). */
  close(): Promise<void>;
};

/**
 * Starts a whole edge node in this process (`workers: 1`): geo, policy, the traffic and admin listeners.
 * Rejects, with nothing left listening, when the geo database, policy files or state cannot be loaded.
 */
export async function startEdgeNode(config: EdgeConfig, logger: Logger): Promise<EdgeNode> {
  const cache = createEdgeCache(config);
  const metrics = createMetrics(cache && (() => cache.stats));
  const control = await openControlPlane(config, logger, metrics);
  const { locator, policy } = control;
  const rechecks = new BlockRechecks(policy, logger);
  if (cache !== undefined) purgeWhenBlocked(rechecks, cache, logger);
  let traffic: Awaited<ReturnType<typeof startTrafficServer>> | undefined;
  const purge = cache === undefined ? undefined : (selector: PurgeSelector) => cache.purge(selector);
  const admin = await startAdmin(
    config,
    { ...control, purge },
    metrics.registry,
    () => traffic?.listening === true,
    logger,
  );
  try {
    traffic = await startTrafficServer(config, { locator, policy, rechecks, cache, logger, metrics });
  } catch (error) {
    rechecks.close();
    admin.close();
    await closeControlPlane(control);
    throw error;
  }
  let current = config;
  logger.info(
    { listen: traffic.url, admin: urlOf(admin), policy_version: policy.current().version },
    'edge451 ready',
  );
  const running = traffic;
  return {
    url: running.url,
    adminUrl: urlOf(admin),
    policy,
    metrics,
    async reload(next) {
      await policy.reload(next.policy);
      running.useConfig(next);
      warnAboutRestartOnlyChanges(current, next, logger);
      current = next;
    },
    async close() {
      await running.close(current.shutdown.drainMs);
      rechecks.close();
      admin.closeAllConnections();
      await new Promise((resolve) => admin.close(resolve));
      await closeControlPlane(control);
    },
  };
}

/**
 * Geo and the authoritative policy state: what the admin API works on (the primary in a cluster).
 * `enforcement` says when a policy version is in force where requests are decided: here, or on workers.
 */
export async function openControlPlane(
  config: EdgeConfig,
  logger: Logger,
  metrics: Metrics,
  enforcement: EnforcementWatch = inThisProcess,
) {
  const locator = await openGeo(config, logger, metrics);
  let lock: StateLock | undefined;
  let audit: AuditLog | undefined;
  try {
    // Before the log is read: another node's append in progress would look like a torn line to cut off.
    lock = await lockStateDir(config.state.dir, logger);
    audit = await AuditLog.open(config.state.dir);
    if (audit.droppedTailBytes > 0) {
      logger.warn(
        { file: join(audit.dir, 'audit.jsonl'), bytes: audit.droppedTailBytes },
        'audit log ended in a line a crash cut short (never acknowledged); cut off',
      );
    }
    const policy = await PolicyState.load(config.policy, audit, logger, enforcement);
    metrics.policyVersion.set(policy.current().version);
    policy.onChange((after) => metrics.policyVersion.set(after.version));
    return { locator, audit, policy, lock };
  } catch (error) {
    locator.close();
    await audit?.close();
    await lock?.release();
    throw error;
  }
}

/** Closes what `openControlPlane` opened; the state directory's lock last, once the log is closed. */
export async function closeControlPlane(control: {
  locator: CountryLocator;
  audit: AuditLog;
  lock: StateLock;
}): Promise<void> {
  control.locator.close();
  await control.audit.close();
  await control.lock.release();
}

/** The control plane plus how to purge the cache(s) it fronts; `purge` is undefined when the cache is off. */
type ControlPlane = Awaited<ReturnType<typeof openControlPlane>> & {
  purge: ((selector: PurgeSelector) => Promise<number>) | undefined;
};

/** The admin listener over a control plane; `metrics` is this process's registry or the cluster aggregate. */
export async function startAdmin(
  config: EdgeConfig,
  control: ControlPlane,
  registry: MetricsSource,
  isReady: () => boolean,
  logger: Logger,
): Promise<Server> {
  const admin = createAdminServer({ ...control, registry, isReady }, config.admin.tokens, logger);
  return listen(admin, config.admin.host, config.admin.port);
}

export async function openGeo(config: EdgeConfig, logger: Logger, metrics: Metrics): Promise<CountryLocator> {
  const locator = await openCountryLocator({
    path: config.geoip.database,
    overrides: config.geoip.overrides,
    watch: config.geoip.watch,
    onReload: (event) => {
      if (event.ok) {
        metrics.geoBuildTime.set(event.info.buildDate.getTime() / 1000);
        logger.info({ geo: event.info }, 'geo database reloaded');
      } else {
        metrics.geoReloadErrors.inc();
        logger.error(
          { err: event.error },
          'geo database replacement refused; the previous database stays in use',
        );
      }
    },
  });
  metrics.geoBuildTime.set(locator.info.buildDate.getTime() / 1000);
  return locator;
}

export function warnAboutRestartOnlyChanges(before: EdgeConfig, after: EdgeConfig, logger: Logger): void {
  const restartOnly = ['listen', 'admin', 'workers', 'geoip', 'state', 'cache'] as const;
  const changed: string[] = restartOnly.filter(
    (key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
  // Listeners read PROXY headers or not from the moment they are bound.
  const proxyProtocolBefore = before.clientIp.source === 'proxy-protocol';
  if (proxyProtocolBefore !== (after.clientIp.source === 'proxy-protocol')) changed.push('clientIp.source');
  if (changed.length > 0) logger.warn({ keys: changed }, 'these config changes take effect on restart only');
}
