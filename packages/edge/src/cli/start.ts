import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { type EdgeConfig, loadConfig } from '../config/load-config.js';
import { startClusterPrimary } from '../runtime/cluster-primary.js';
import { runClusterWorker } from '../runtime/cluster-worker.js';
import { type EdgeNode, startEdgeNode } from '../runtime/edge-node.js';
import { startDemoOrigin } from './demo-origin.js';
import { createLogger } from './logger.js';
import { issuesOf, reportIssues } from './report-issues.js';

/** The embedded defaults `edge451 start` runs without --config. */
export const defaultConfigFile = fileURLToPath(new URL('../../defaults/edge451.yaml', import.meta.url));

/**
 * `edge451 start`: loads and validates the config (exit 1 listing every problem), starts the node and
 * installs the signal handlers: SIGTERM/SIGINT drain and exit 0, SIGHUP reloads config and policy
 * (an invalid reload is refused and logged; the running config stays). Resolves -1 while running.
 */
export async function runStart(configFile: string | undefined): Promise<number> {
  if (cluster.isWorker) {
    runClusterWorker();
    return -1;
  }
  const env = { ...process.env };
  if (configFile === undefined) {
    const demo = await startDemoOrigin();
    env.EDGE451_DEMO_ORIGIN = demo.url;
    demo.server.unref();
  }
  const file = configFile ?? defaultConfigFile;
  let config: EdgeConfig;
  try {
    config = await loadConfig(file, env);
  } catch (error) {
    const issues = issuesOf(error);
    if (issues === undefined) throw error;
    reportIssues(issues);
    return 1;
  }
  const logger = createLogger(config.log.level);
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
  // A SIGHUP during start-up (`systemctl reload` right after start) would end the process by default: it is
  // remembered, and the reload runs once the node is ready.
  let reloadAsked = false;
  const askReload = () => {
    reloadAsked = true;
  };
  process.on('SIGHUP', askReload);
  let node: EdgeNode;
  try {
    node =
      workers > 1
        ? await startClusterPrimary(config, workers, ['start', '--config', file], env, logger)
        : await startEdgeNode(config, logger);
  } catch (error) {
    const issues = issuesOf(error);
    if (issues === undefined) throw error;
    reportIssues(issues);
    return 1;
  } finally {
    process.off('SIGHUP', askReload);
  }
  const reload = installSignals(node, file, env, logger);
  if (reloadAsked) reload();
  return -1;
}

/** SIGTERM/SIGINT drain and exit; SIGHUP reloads. Returns the reload, for a SIGHUP that came during start-up. */
function installSignals(node: EdgeNode, file: string, env: NodeJS.ProcessEnv, logger: Logger): () => void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    node.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const reload = () => {
    loadConfig(file, env)
      .then((next) => node.reload(next))
      .then(
        () => logger.info({ policy_version: node.policy.current().version }, 'reloaded'),
        (error: unknown) => {
          const issues = issuesOf(error);
          logger.error(
            { issues, err: issues ? undefined : error },
            'reload refused; the running config stays',
          );
        },
      );
  };
  process.on('SIGHUP', reload);
  return reload;
}
