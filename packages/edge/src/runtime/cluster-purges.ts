import type { Worker } from 'node:cluster';
import { CacheError, type PurgeSelector } from '@edge451/cache';
import type { PrimaryMessage, WorkerMessage } from './cluster-messages.js';

/**
 * Sends `message` to `worker` unless its IPC channel has closed (the worker is exiting), and says whether it
 * did: a send on a closed channel raises ERR_IPC_CHANNEL_CLOSED as an 'error' on the Worker, which, with
 * nobody listening, ends the primary and the admin API with it.
 */
export function sendToWorker(worker: Worker, message: PrimaryMessage): boolean {
  if (!worker.isConnected()) return false;
  worker.send(message);
  return true;
}

type PurgeReply = Extract<WorkerMessage, { type: 'purged' }>;

/**
 * Fans a purge out to every ready worker (each has its own memory cache) and sums what they removed. A
 * worker that has not answered within `confirmMs()` is handed to `onOverdue` (the primary kills it as hung,
 * and a killed worker takes its cache with it), so the admin request is answered within a bound.
 */
export class ClusterPurges {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { waiting: Set<Worker>; total: number; done: (error?: Error) => void }
  >();

  constructor(
    private readonly workers: () => Worker[],
    private readonly confirmMs: () => number,
    private readonly onOverdue: (worker: Worker, waitedMs: number) => void,
  ) {}

  run(selector: PurgeSelector): Promise<number> {
    const id = this.nextId++;
    const targets = this.workers();
    return new Promise<number>((resolve, reject) => {
      const waitMs = this.confirmMs();
      const overdue = setTimeout(() => {
        for (const worker of entry.waiting) this.onOverdue(worker, waitMs);
      }, waitMs);
      overdue.unref();
      const entry = {
        waiting: new Set(targets),
        total: 0,
        done: (error?: Error) => {
          clearTimeout(overdue);
          this.pending.delete(id);
          if (error === undefined) resolve(entry.total);
          else reject(error);
        },
      };
      this.pending.set(id, entry);
      // A worker that cannot be asked is on its way out and takes its cache with it (as in `forget`).
      for (const worker of targets) {
        if (!sendToWorker(worker, { type: 'purge', id, selector })) entry.waiting.delete(worker);
      }
      if (entry.waiting.size === 0) entry.done();
    });
  }

  /** A worker that died takes its cache with it: stop waiting for its answer. */
  forget(worker: Worker): void {
    for (const entry of [...this.pending.values()]) {
      if (entry.waiting.delete(worker) && entry.waiting.size === 0) entry.done();
    }
  }

  settle(worker: Worker, reply: PurgeReply): void {
    const entry = this.pending.get(reply.id);
    if (entry === undefined) return;
    if (reply.error !== undefined) {
      const message = reply.error.message;
      entry.done(
        reply.error.client ? new CacheError('CACHE_PURGE_INVALID', message, 'client') : new Error(message),
      );
      return;
    }
    entry.total += reply.count;
    entry.waiting.delete(worker);
    if (entry.waiting.size === 0) entry.done();
  }
}
