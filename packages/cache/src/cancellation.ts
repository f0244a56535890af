/**
 * What the cache needs of a cancellation signal, and all it uses: an `AbortSignal` has it, and so does
 * {@link Cancellation}. undici accepts either as a request's `signal` (it only calls these members).
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A cancellation signal and its trigger in one small object, used instead of an `AbortController` for the
 * signals made per request. On Node 20 every `AbortController` with its signal survives young-generation
 * collections and is promoted to old space: with one per proxied request, 3,000 req/s promoted about 300 KB
 * per scavenge, forced a mark-compact every 2–3 s and put the pass-through p99 at ~25 ms; with this class,
 * about 100 KB, zero to two mark-compacts in 9 s runs and a p99 of ~5 ms (load-tests README).
 *
 * Listeners run once, in the order added, when `abort` is first called; one added after that never runs,
 * as with an `AbortSignal`. A listener that throws does not stop the others: its error is rethrown on a
 * microtask (an `EventTarget` reports it as uncaught too).
 */
export class Cancellation implements CancelSignal {
  #aborted = false;
  #reason: unknown;
  #listeners: (() => void)[] | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  addEventListener(type: 'abort', listener: () => void): void {
    if (type !== 'abort' || this.#aborted) return;
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
  }

  removeEventListener(type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    if (type !== 'abort' || listeners === undefined) return;
    const at = listeners.indexOf(listener);
    if (at !== -1) listeners.splice(at, 1);
  }

  /** Aborts; `reason` defaults to the `AbortError` DOMException an `AbortController` gives. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
