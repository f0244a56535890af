import { Cancellation, type CancelSignal } from '@edge451/cache';

/**
 * Tells the phases that the client went away. The signal is made on first use only: hits and 451s never
 * ask for it. It is the cache's `Cancellation`, not an `AbortController`: one of those per proxied request
 * was promoted to old space by every scavenge and cost the pass-through p99 ~20 ms (see cancellation.ts).
 */
export class ClientAbort {
  #signal: Cancellation | undefined;
  #aborted = false;

  /** Whether the client has gone. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborted when the client goes (already aborted when asked for after that): cancels upstream work. */
  get signal(): CancelSignal {
    if (this.#signal === undefined) {
      this.#signal = new Cancellation();
      if (this.#aborted) this.#signal.abort();
    }
    return this.#signal;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#signal?.abort();
  }
}
