import { Cancellation, type CancelSignal } from './cancellation.js';
import type { StoredResponse } from './stores/store.js';

/** What a coalesced origin fetch tells the requests waiting for it. */
export type FlightResult =
  /** A response (new or revalidated) that waiters whose Vary variant matches may reuse. */
  | { kind: 'entry'; entry: StoredResponse; outcome: 'miss' | 'revalidated'; fwdStatus: number }
  /** Not storable, or storing was abandoned: each waiter goes to the origin itself, now. */
  | { kind: 'released' }
  /** The origin failed (rejected, or answered 5xx): waiters use stale-if-error if they may. */
  | { kind: 'origin-failed'; error?: unknown; status?: number };

/**
 * One origin fetch shared by every concurrent request for a key. Interest is counted: when every
 * request that wanted the response has gone before it arrived, the fetch is aborted; once the response
 * has arrived, a fill in progress continues for the store (bounded by maxEntryBytes).
 */
export interface Flight {
  /** The signal handed to `fetchOrigin`. */
  readonly signal: CancelSignal;
  readonly result: Promise<FlightResult>;
  /** Whether the request that started the fetch is still there to receive the response. */
  readonly leaderPresent: boolean;
  join(): void;
  leave(): void;
  leaderLeft(): void;
  /** The origin's response headers have arrived. */
  responded(): void;
  /** Tells waiters the result; later calls are ignored. */
  settle(result: FlightResult): void;
}

/**
 * Creates a flight; `onSettled` runs once when it settles (the table removes it then). A `background`
 * flight has no leader and is never aborted for lack of interest (a stale-while-revalidate refresh).
 * A flight nobody can join may fetch with its leader's own `leaderSignal`: the leader is all the interest
 * there is, so the fetch stops when its client goes, and no Cancellation is made for it.
 */
export function createFlight(onSettled: () => void, background = false, leaderSignal?: CancelSignal): Flight {
  return new OriginFlight(onSettled, background, leaderSignal);
}

/**
 * A class, not an object literal: each object literal with a getter leaves garbage in V8's old space
 * (100,000 flights as a literal with `get leaderPresent()` grew it by 16.6 MB; as this class, by next to
 * nothing: see flight.test.ts). One flight per miss made that the largest source of old-space garbage on
 * pass-through traffic: twice the bytes promoted per scavenge, a mark-compact every few seconds, and a
 * p99 of 15–50 ms instead of 6–10 ms at 1,100 req/s.
 */
class OriginFlight implements Flight {
  readonly signal: CancelSignal;
  readonly #cancellation: Cancellation | undefined;
  readonly #leaderSignal: CancelSignal | undefined;
  readonly #onSettled: () => void;
  #interest: number;
  #responded = false;
  #settled: FlightResult | undefined;
  #leaderPresent: boolean;
  #result: Promise<FlightResult> | undefined;
  #resolveResult: ((result: FlightResult) => void) | undefined;

  constructor(onSettled: () => void, background: boolean, leaderSignal: CancelSignal | undefined) {
    this.#cancellation = leaderSignal === undefined ? new Cancellation() : undefined;
    this.#leaderSignal = leaderSignal;
    this.#onSettled = onSettled;
    this.#interest = background ? 1 : 0;
    this.#leaderPresent = !background;
    this.signal = leaderSignal ?? (this.#cancellation as Cancellation);
  }

  // Made when first asked for: most flights (pass-through misses nobody can join) have nobody waiting, and
  // a promise with its resolver per request was garbage for nothing.
  get result(): Promise<FlightResult> {
    if (this.#result === undefined) {
      const settled = this.#settled;
      this.#result =
        settled !== undefined
          ? Promise.resolve(settled)
          : new Promise<FlightResult>((resolve) => {
              this.#resolveResult = resolve;
            });
    }
    return this.#result;
  }

  get leaderPresent(): boolean {
    return this.#leaderPresent && this.#leaderSignal?.aborted !== true;
  }

  join(): void {
    this.#interest += 1;
  }

  leave(): void {
    this.#interest -= 1;
    if (this.#interest === 0 && !this.#responded && this.#settled === undefined) {
      this.#cancellation?.abort(new Error('every request waiting for this origin fetch has gone'));
      this.settle({ kind: 'released' });
    }
  }

  leaderLeft(): void {
    if (!this.#leaderPresent) return;
    this.#leaderPresent = false;
    this.leave();
  }

  responded(): void {
    this.#responded = true;
  }

  settle(outcome: FlightResult): void {
    if (this.#settled !== undefined) return;
    this.#settled = outcome;
    this.#onSettled();
    this.#resolveResult?.(outcome);
  }
}

/** The in-flight origin fetches by cache key: at most one registered per key. */
export interface FlightTable {
  get(key: string): Flight | undefined;
  /**
   * Starts a flight; `register: false` makes one nobody else can join (no coalescing), which fetches with
   * `leaderSignal` when given; `background: true` one without a leader.
   */
  start(
    key: string,
    options: { register: boolean; background?: boolean; leaderSignal?: CancelSignal },
  ): Flight;
  readonly size: number;
}

const notInTable = () => {};

/** Creates an empty table. */
export function createFlightTable(): FlightTable {
  const flights = new Map<string, Flight>();
  return {
    get: (key) => flights.get(key),
    start(key, { register, background = false, leaderSignal }) {
      if (!register) return createFlight(notInTable, background, leaderSignal);
      const flight = createFlight(() => {
        if (flights.get(key) === flight) flights.delete(key);
      }, background);
      flights.set(key, flight);
      return flight;
    },
    get size() {
      return flights.size;
    },
  };
}
