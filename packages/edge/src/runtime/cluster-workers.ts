import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { EdgeConfig } from '../config/load-config.js';
import type { PrimaryMetrics } from '../observe/metrics.js';
import type { PrimaryMessage, WorkerMessage } from './cluster-messages.js';
import { ClusterPurges, sendToWorker } from './cluster-purges.js';
import { IN_FORCE_WAIT_MS, within } from './in-force.js';
import { snapshotOf } from './policy-replica.js';
import type { PolicyView } from './policy-state.js';
import { type Overdue, WorkerVersions } from './worker-versions.js';

type Options = {
  config: EdgeConfig;
  /** The workers' command line (`start --config FILE`). */
  args: string[];
  env: NodeJS.ProcessEnv;
  logger: Logger;
  metrics: PrimaryMetrics;
};

/** What a worker killed as hung did not do in time: confirm a version or a purge, or (a replacement) listen. */
type Unconfirmed = 'policy' | 'config' | 'purge' | 'start';

const pidOf = (worker: Worker) => worker.process.pid;

const exitOf = (worker: Worker) =>
  new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve())));

/**
 * The cluster primary's traffic workers. Each is sent the config and policy snapshot in force when it says
 * hello, then every policy change and config reload; one WorkerVersions per kind follows which version
 * each worker has confirmed. Once the node is serving, a worker that dies is replaced, and one that does
 * not confirm a version within `workerConfirmMs`, or a replacement not listening within `workerStartMs`,
 * is killed as hung (and so replaced).
 */
export class TrafficWorkers {
  /** The traffic URL of each worker that is listening. */
  readonly ready = new Map<Worker, string>();
  /** Which policy version each worker decides with: what the in-force records wait for. */
  readonly policyVersions = new WorkerVersions(pidOf, (worker, late) =>
    this.killHung(worker, 'policy', overdueFields('policy', late)),
  );
  readonly purges = new ClusterPurges(
    () => [...this.ready.keys()],
    () => this.config.workerConfirmMs,
    (worker, waitedMs) => this.killHung(worker, 'purge', { waited_ms: waitedMs }),
  );
  private readonly configVersions = new WorkerVersions(pidOf, (worker, late) =>
    this.killHung(worker, 'config', overdueFields('config', late)),
  );
  // Set by start(), before any worker exists to say hello.
  private policy!: PolicyView;
  private config: EdgeConfig;
  private configVersion = 0;
  private phase: 'starting' | 'serving' | 'stopping' = 'starting';
  private restartDelayMs = 0;
  /** Workers that died before the node was ready; each would die again, so the start fails. */
  private startFailures = 0;
  /** When start() forked the first workers: `workerStartMs` counts from here. */
  private forkedAt = 0;

  constructor(private readonly options: Options) {
    this.config = options.config;
  }

  /** Forks `count` workers, which follow `policy` from then on. */
  start(count: number, policy: PolicyView): void {
    this.policy = policy;
    policy.onChange((after, _before, change) => {
      this.broadcast(
        change === undefined
          ? { type: 'snapshot', snapshot: snapshotOf(after) }
          : { type: 'change', change, version: after.version },
      );
      this.policyVersions.sent(after.version, this.config.workerConfirmMs);
    });
    cluster.setupPrimary({ exec: process.argv[1], args: this.options.args });
    this.forkedAt = Date.now();
    for (let index = 0; index < count; index += 1) this.fork();
  }

  /** The node is ready: from now on a worker that dies is replaced, and a hung one killed. */
  serving(): void {
    this.phase = 'serving';
  }

  /**
   * Sends a reloaded config to every worker (one that says hello from now on starts with it). Resolves once
   * every worker routes with it, or after IN_FORCE_WAIT_MS, naming the workers that do not, as a policy
   * change does.
   */
  async reload(next: EdgeConfig): Promise<void> {
    this.config = next;
    this.configVersion += 1;
    const version = this.configVersion;
    this.broadcast({ type: 'config', version, config: next });
    this.configVersions.sent(version, next.workerConfirmMs);
    if ((await within(this.configVersions.inForce(version), IN_FORCE_WAIT_MS)) !== undefined) return;
    this.options.logger.error(
      {
        config_version: version,
        waited_ms: IN_FORCE_WAIT_MS,
        worker_pids: this.configVersions.lagging(version),
      },
      'config reload not confirmed by every worker in time',
    );
  }

  /**
   * Resolves with a traffic URL once `count` workers listen; rejects once one has died trying, or once
   * `workerStartMs` has passed since the fork with one still not listening. That one is hung (stopped, or
   * stuck before it listens) and is killed rather than replaced, as a worker that dies while starting is:
   * whatever held it would most likely hold its replacement too, and an operator (or systemd) told that
   * the start failed, and why, can act, where a start that never ends tells nobody anything.
   */
  async allReady(count: number): Promise<string> {
    const deadline = this.forkedAt + this.config.workerStartMs;
    while (this.ready.size < count) {
      if (this.startFailures > 0)
        throw new Error(`${this.startFailures} worker(s) failed to start; see their log lines`);
      if (Date.now() >= deadline) throw new Error(this.killUnready());
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return [...this.ready.values()][0] ?? '';
  }

  /** Kills (SIGKILL) every worker not listening yet, each logged; the start's error message, naming them. */
  private killUnready(): string {
    const waitedMs = this.config.workerStartMs;
    const named: string[] = [];
    for (const worker of this.all()) {
      if (this.ready.has(worker) || worker.isDead()) continue;
      const pid = worker.process.pid;
      this.options.logger.error(
        { worker_id: worker.id, worker_pid: pid, waited_ms: waitedMs },
        'worker did not report ready within workerStartMs; killed (SIGKILL)',
      );
      // SIGKILL: workers ignore SIGTERM, and a stopped one would not act on it anyway.
      worker.process.kill('SIGKILL');
      named.push(`worker ${worker.id} (pid ${pid})`);
    }
    return `${named.join(', ')} did not report ready within workerStartMs (${waitedMs} ms); killed, start failed`;
  }

  /**
   * Tells every worker to drain and exit; resolves once all have exited. A worker drains for at most
   * `shutdown.drainMs`; one still there `workerConfirmMs` after that is hung and is killed, so a SIGTERM
   * ends the node within a bound (DECISIONS #11), as it does with `workers: 1`.
   */
  async stop(): Promise<void> {
    this.phase = 'stopping';
    const workers = this.all();
    const exits = Promise.all(workers.map(exitOf));
    this.broadcast({ type: 'shutdown' });
    const { shutdown, workerConfirmMs } = this.config;
    if ((await within(exits, shutdown.drainMs + workerConfirmMs)) !== undefined) return;
    for (const worker of workers) {
      if (worker.isDead()) continue;
      this.options.logger.error(
        { worker_pid: worker.process.pid, waited_ms: shutdown.drainMs + workerConfirmMs },
        'worker did not exit after the drain; killed as hung (SIGKILL)',
      );
      worker.process.kill('SIGKILL');
    }
    await exits;
  }

  /**
   * Ends every worker at once (a start that failed). SIGKILL: `worker.kill()` disconnects and then sends
   * SIGTERM, which workers ignore (the primary coordinates the drain), so a worker that was already
   * listening lived on, and the primary, waiting for its child, never exited.
   */
  kill(): void {
    this.phase = 'stopping';
    for (const worker of this.all()) worker.process.kill('SIGKILL');
  }

  private fork(): void {
    const worker = cluster.fork(this.options.env);
    const startedAt = Date.now();
    worker.on('error', (error) =>
      this.options.logger.warn({ err: error, worker_pid: worker.process.pid }, 'worker IPC error'),
    );
    worker.on('message', (message: WorkerMessage) => this.handle(worker, message));
    worker.on('exit', (code, signal) => this.exited(worker, Date.now() - startedAt, code, signal));
    if (this.phase === 'serving') this.killIfNotListening(worker, this.config.workerStartMs);
  }

  /**
   * A replacement has `workerStartMs` to listen, as the first workers had. One stuck before that would hold
   * a share of the node's capacity forever, telling nobody, until the next change happened to time it out.
   */
  private killIfNotListening(worker: Worker, waitedMs: number): void {
    // Not cleared when the worker exits first: killHung leaves a dead worker alone.
    setTimeout(() => {
      if (!this.ready.has(worker)) this.killHung(worker, 'start', { waited_ms: waitedMs });
    }, waitedMs).unref();
  }

  private handle(worker: Worker, message: WorkerMessage): void {
    switch (message.type) {
      case 'hello': {
        const snapshot = snapshotOf(this.policy.current());
        this.policyVersions.started(worker, snapshot.version);
        this.configVersions.started(worker, this.configVersion);
        sendToWorker(worker, { type: 'start', config: this.config, snapshot });
        return;
      }
      case 'resync':
        sendToWorker(worker, { type: 'snapshot', snapshot: snapshotOf(this.policy.current()) });
        return;
      case 'ready':
        this.ready.set(worker, message.url);
        return;
      case 'policy-applied':
        this.policyVersions.applied(worker, message.version);
        return;
      case 'config-applied':
        this.configVersions.applied(worker, message.version);
        return;
      case 'purged':
        this.purges.settle(worker, message);
        return;
    }
  }

  private exited(worker: Worker, livedMs: number, code: number, signal: string): void {
    this.ready.delete(worker);
    this.policyVersions.gone(worker);
    this.configVersions.gone(worker);
    this.purges.forget(worker);
    if (this.phase === 'stopping') return;
    if (this.phase === 'starting') {
      // A worker that dies before the node is ready (port taken, bad file) would die again: give up.
      this.startFailures += 1;
      return;
    }
    // A worker that keeps dying right after start (or hanging: see killHung) is restarted ever more slowly
    // (up to 10 s), not in a hot loop.
    this.restartDelayMs = livedMs > 10_000 ? 0 : Math.min(Math.max(this.restartDelayMs * 2, 100), 10_000);
    this.options.logger.error(
      { worker_pid: worker.process.pid, code, signal, restart_in_ms: this.restartDelayMs },
      'worker died; starting another',
    );
    setTimeout(() => {
      if (this.phase !== 'stopping') this.fork();
    }, this.restartDelayMs);
  }

  /**
   * A worker that has not confirmed a version (or answered a purge; or, a replacement, begun listening) in
   * time is hung: stopped, or its event loop stuck. Left alive, it holds its connections and would answer
   * them with what it had once it moves again, and the change could not be recorded in force (nor the purge
   * answered). Killed, it stops counting (WorkerVersions.gone, which lets the in-force record be written)
   * and is replaced by a worker that starts with what is in force. SIGKILL: workers ignore SIGTERM (the
   * primary coordinates the drain), and a hung one could not act on it anyway. Not while starting, where a
   * death fails the start, nor while stopping, where workers exit anyway. A replacement cannot be late for
   * a version sent before it started, so kills follow changes, no faster.
   */
  private killHung(worker: Worker, unconfirmed: Unconfirmed, late: Record<string, number>): void {
    if (this.phase !== 'serving' || worker.isDead() || worker.process.killed) return;
    this.options.logger.error(
      { worker_pid: worker.process.pid, unconfirmed, ...late },
      'worker did not confirm in time; killed as hung (SIGKILL)',
    );
    this.options.metrics.hungWorkersKilled.inc({ unconfirmed });
    worker.process.kill('SIGKILL');
  }

  private all(): Worker[] {
    return Object.values(cluster.workers ?? {}).flatMap((worker) => worker ?? []);
  }

  private broadcast(message: PrimaryMessage): void {
    for (const worker of this.all()) sendToWorker(worker, message);
  }
}

/** The log fields of a version a worker has not confirmed in time. */
function overdueFields(unconfirmed: 'policy' | 'config', late: Overdue): Record<string, number> {
  return { [`${unconfirmed}_version`]: late.version, confirmed_version: late.held, waited_ms: late.waitedMs };
}
