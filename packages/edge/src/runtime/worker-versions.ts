import type { EnforcementWatch } from './in-force.js';

type Waiter = { version: number; resolve: (atMs: number) => void };

/** A live worker that still held `held` when the deadline for `version` passed, `waitedMs` after it was sent. */
export type Overdue = { version: number; held: number; waitedMs: number };

/**
 * Which version of something the cluster primary sends every traffic worker each worker holds: one
 * instance follows policy versions, another config reloads. Built from what the primary sends and what
 * workers confirm, a version is in force on the node once every live worker has confirmed it (or a later
 * one). A worker counts from the moment it is sent its start state (it holds that before it can accept a
 * connection) until it exits, so one that dies stops being waited for, and one that starts later starts
 * with the version in force. `sent` starts a deadline: a worker still below the version when it passes is
 * reported to `onOverdue` (the primary kills it as hung).
 */
export class WorkerVersions<W> implements EnforcementWatch {
  private readonly versions = new Map<W, number>();
  private waiters: Waiter[] = [];

  constructor(
    private readonly pidOf: (worker: W) => number | undefined,
    private readonly onOverdue: (worker: W, overdue: Overdue) => void = () => undefined,
  ) {}

  /** `worker` was sent its start state at `version`. */
  started(worker: W, version: number): void {
    this.versions.set(worker, version);
    this.settle();
  }

  /** `worker` confirmed it holds `version` (which covers every earlier one). */
  applied(worker: W, version: number): void {
    const held = this.versions.get(worker);
    if (held === undefined) return; // it exited meanwhile, or was never started
    this.versions.set(worker, Math.max(held, version));
    this.settle();
  }

  /** `worker` exited: it holds nothing any more. */
  gone(worker: W): void {
    this.versions.delete(worker);
    this.settle();
  }

  /** `version` was just sent to every worker: each live worker still below it `withinMs` later is overdue. */
  sent(version: number, withinMs: number): void {
    const sentAt = Date.now();
    const judge = () => {
      const waitedMs = Date.now() - sentAt;
      for (const [worker, held] of this.versions) {
        if (held < version) this.onOverdue(worker, { version, held, waitedMs });
      }
    };
    // Judged after the next poll phase (setImmediate), once the primary has read what is waiting in the
    // workers' IPC pipes: when its own event loop was held past the deadline, the timer runs before
    // confirmations sent in time are read, and healthy workers would be reported.
    setTimeout(() => setImmediate(judge), withinMs).unref();
  }

  inForce(version: number): Promise<number> {
    if (this.everyWorkerAt(version)) return Promise.resolve(Date.now());
    return new Promise((resolve) => this.waiters.push({ version, resolve }));
  }

  lagging(version: number): number[] {
    return [...this.versions]
      .filter(([, held]) => held < version)
      .flatMap(([worker]) => this.pidOf(worker) ?? []);
  }

  // The instant is read after the confirmation that completed a version arrived, so every worker had
  // swapped the version in before it.
  private settle(): void {
    if (this.waiters.length === 0) return;
    const now = Date.now();
    this.waiters = this.waiters.filter((waiter) => {
      if (!this.everyWorkerAt(waiter.version)) return true;
      waiter.resolve(now);
      return false;
    });
  }

  private everyWorkerAt(version: number): boolean {
    for (const held of this.versions.values()) if (held < version) return false;
    return true;
  }
}
