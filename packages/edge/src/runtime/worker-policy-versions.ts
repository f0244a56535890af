import type { EnforcementWatch } from './in-force.js';

type Waiter = { version: number; resolve: (atMs: number) => void };

/**
 * The cluster primary's view of which policy version each traffic worker decides with, built from what it
 * sends and what workers confirm: a version is in force on the node once every live worker has confirmed
 * it (or a later one). A worker counts from the moment it is sent its start snapshot (it holds that
 * snapshot before it can accept a connection) until it exits, so one that dies stops being waited for,
 * and one that starts later starts with the version in force.
 */
export class WorkerPolicyVersions<W> implements EnforcementWatch {
  private readonly versions = new Map<W, number>();
  private waiters: Waiter[] = [];

  constructor(private readonly pidOf: (worker: W) => number | undefined) {}

  /** `worker` was sent its start snapshot at `version`. */
  started(worker: W, version: number): void {
    this.versions.set(worker, version);
    this.settle();
  }

  /** `worker` confirmed it decides with `version` (an incremental change or a full snapshot). */
  applied(worker: W, version: number): void {
    if (!this.versions.has(worker)) return; // it exited meanwhile
    this.versions.set(worker, version);
    this.settle();
  }

  /** `worker` exited: it decides nothing any more. */
  gone(worker: W): void {
    this.versions.delete(worker);
    this.settle();
  }

  inForce(version: number): Promise<number> {
    if (this.everyWorkerAt(version)) return Promise.resolve(Date.now());
    return new Promise((resolve) => this.waiters.push({ version, resolve }));
  }

  lagging(version: number): number[] {
    return [...this.versions]
      .filter(([, applied]) => applied < version)
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
    for (const applied of this.versions.values()) if (applied < version) return false;
    return true;
  }
}
