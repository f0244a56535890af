/**
 * Tells the phases that the client went away. The AbortController behind `signal` is made on first use
 * only: hits and 451s never ask for it, and making one per request cost a twentieth of a cache hit's CPU.
 */
export class ClientAbort {
  #controller: AbortController | undefined;
  #aborted = false;

  /** Whether the client has gone. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborted when the client goes (already aborted when asked for after that): cancels upstream work. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
  }
}
