import type { Duplex } from 'node:stream';
import type { CancelSignal } from '@edge451/cache';
import { type Dispatcher, Pool } from 'undici';
import { EdgeError } from '../errors.js';

type DispatchOptions = Dispatcher.DispatchOptions;
type DispatchHandler = Dispatcher.DispatchHandler;

/** A request waiting for one of the pool's connections. */
type Waiting = {
  options: DispatchOptions;
  handler: DispatchHandler;
  /** `performance.now()` when it was queued. */
  queuedAt: number;
  /** Sent, timed out or given up by its client: skipped when it reaches the head of the queue. */
  gone: boolean;
  /** Fails it if its client goes while it waits; undefined when it came without a signal. */
  onAbort: (() => void) | undefined;
};

/**
 * An undici Pool of `connections` connections whose requests wait for a free connection at most
 * `queueMs`, in a queue of its own: past it a request fails with `EDGE_ORIGIN_QUEUE_TIMEOUT` (503) and
 * is never sent, and a request whose client goes (its `signal`) leaves the queue at once.
 *
 * undici has no such bound: `headersTimeout` starts once a request is written to a connection, so one
 * queued behind `connections` requests to a stalled origin waited as long as its client did. Nor can a
 * request leave undici's queue: aborting its signal only marks it (api-request.js's handler calls its
 * callback once a connection takes it), so an `AbortSignal.timeout` did not reject a queued request, and the
 * request was aborted when a connection took it, destroying that keep-alive connection (client-h1.js's
 * abort). So the edge hands undici at most `connections` requests at a time (counted from dispatch to
 * their last handler callback, as undici's clients count them) and queues the rest here, in arrival order.
 * One timer per pool, armed for the oldest waiting request, times them all: none per request.
 *
 * Takes handlers in undici's legacy shape (onConnect … onComplete / onError), which `request()` uses.
 */
export class QueueTimedPool extends Pool {
  readonly #connections: number;
  readonly #queueMs: number;
  /** Requests handed to undici whose handler has not yet heard its last callback. */
  #running = 0;
  /** Arrival order; entries before `#head` have left. */
  #queue: Waiting[] = [];
  #head = 0;
  /** Entries still waiting (not `gone`). */
  #waiting = 0;
  #sendScheduled = false;
  #closeWhenIdle = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(origin: string, options: Pool.Options & { connections: number }, queueMs: number) {
    super(origin, options);
    this.#connections = options.connections;
    this.#queueMs = queueMs;
  }

  override dispatch(options: DispatchOptions, handler: DispatchHandler): boolean {
    if (this.#waiting === 0 && this.#running < this.#connections) {
      this.#send(options, handler);
      return this.#running < this.#connections;
    }
    this.#enqueue(options, handler);
    return false;
  }

  /**
   * Closes the pool once no request runs or waits (a reload left its site behind). Until then it works
   * as before: requests already under way, and those that find it meanwhile, are answered.
   */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    this.#closeIfIdle();
  }

  #closeIfIdle(): void {
    if (!this.#closeWhenIdle || this.#running > 0 || this.#waiting > 0) return;
    this.#closeWhenIdle = false;
    void this.close();
  }

  /** Fails every waiting request with `error` (the pool is being destroyed); they are never sent. */
  failWaiting(error: Error): void {
    for (let entry = this.#next(); entry !== undefined; entry = this.#next()) this.#fail(entry, error);
  }

  #send(options: DispatchOptions, handler: DispatchHandler): void {
    this.#running += 1;
    super.dispatch(options, new Counted(handler, this.#finished));
  }

  /** A request handed to undici heard its last callback: its connection is free for the next. */
  readonly #finished = () => {
    this.#running -= 1;
    // Sent from a microtask, not from inside undici's callback (its client is still settling then).
    if (this.#waiting > 0 && !this.#sendScheduled) {
      this.#sendScheduled = true;
      queueMicrotask(this.#sendWaiting);
    } else if (this.#closeWhenIdle && this.#running === 0) {
      queueMicrotask(() => this.#closeIfIdle());
    }
  };

  readonly #sendWaiting = () => {
    this.#sendScheduled = false;
    while (this.#running < this.#connections) {
      const entry = this.#next();
      if (entry === undefined) break;
      this.#leave(entry);
      this.#send(entry.options, entry.handler);
    }
  };

  #enqueue(options: DispatchOptions, handler: DispatchHandler): void {
    const signal = signalOf(options);
    const entry: Waiting = { options, handler, queuedAt: performance.now(), gone: false, onAbort: undefined };
    if (signal != null) {
      if (signal.aborted) return void callOnError(handler, abortReason(signal));
      entry.onAbort = () => this.#fail(entry, abortReason(signal));
      signal.addEventListener('abort', entry.onAbort);
    }
    this.#queue.push(entry);
    this.#waiting += 1;
    if (this.#timer === undefined) this.#arm(this.#queueMs);
  }

  /** The oldest entry still waiting; drops those gone before it. */
  #next(): Waiting | undefined {
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head] as Waiting;
      if (!entry.gone) return entry;
      this.#head += 1;
    }
    // Empty: start the array again rather than keep a long tail of gone entries.
    this.#queue = [];
    this.#head = 0;
    return undefined;
  }

  /** Takes `entry` out of the queue (it is about to be sent or failed). */
  #leave(entry: Waiting): void {
    entry.gone = true;
    this.#waiting -= 1;
    const signal = signalOf(entry.options);
    if (entry.onAbort !== undefined) signal?.removeEventListener('abort', entry.onAbort);
    if (this.#waiting === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #fail(entry: Waiting, error: unknown): void {
    if (entry.gone) return;
    this.#leave(entry);
    callOnError(entry.handler, error);
    this.#closeIfIdle();
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(this.#expire, Math.max(1, Math.ceil(delayMs)));
    this.#timer.unref();
  }

  /** Fails every request that has waited `queueMs`, oldest first, then waits for the next oldest. */
  readonly #expire = () => {
    this.#timer = undefined;
    const now = performance.now();
    for (let entry = this.#next(); entry !== undefined; entry = this.#next()) {
      const waitedMs = now - entry.queuedAt;
      if (waitedMs < this.#queueMs) return this.#arm(this.#queueMs - waitedMs);
      this.#fail(
        entry,
        new EdgeError(
          'EDGE_ORIGIN_QUEUE_TIMEOUT',
          'origin',
          `no connection to the origin became free within queueMs (${this.#queueMs} ms)`,
        ),
      );
    }
  };
}

/**
 * Forwards undici's callbacks to the request's own handler and tells the pool once the request is over
 * (completed, failed or upgraded), which is when undici's client is done with it too. Returns what the
 * handler returns: undici reads `false` from onHeaders and onData as "pause".
 */
class Counted implements DispatchHandler {
  readonly #handler: DispatchHandler;
  #finished: (() => void) | undefined;

  constructor(handler: DispatchHandler, finished: () => void) {
    this.#handler = handler;
    this.#finished = finished;
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#handler.onConnect?.(abort);
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    return this.#handler.onHeaders?.(statusCode, headers, resume, statusText) as boolean;
  }

  onData(chunk: Buffer): boolean {
    return this.#handler.onData?.(chunk) as boolean;
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.#handler.onBodySent?.(chunkSize, totalBytesSent);
  }

  onComplete(trailers: string[] | null): void {
    this.#finish();
    this.#handler.onComplete?.(trailers);
  }

  onError(error: Error): void {
    this.#finish();
    callOnError(this.#handler, error);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.#finish();
    this.#handler.onUpgrade?.(statusCode, headers, socket);
  }

  #finish(): void {
    const finished = this.#finished;
    this.#finished = undefined;
    finished?.();
  }
}

/** `request()` passes its options, `signal` included, to `dispatch` (undici types it on RequestOptions only). */
function signalOf(options: DispatchOptions): CancelSignal | null | undefined {
  return (options as { signal?: CancelSignal | null }).signal;
}

function callOnError(handler: DispatchHandler, error: unknown): void {
  if (handler.onError === undefined) throw error;
  handler.onError(error as Error);
}

/** What a signal aborted with: the edge's `ClientAbort` gives the AbortError an `AbortController` would. */
function abortReason(signal: CancelSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
