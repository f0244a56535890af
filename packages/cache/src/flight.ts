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
  readonly signal: AbortSignal;
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
 * there is, so the fetch stops when its client goes, and no AbortController is made for it.
 */
export function createFlight(onSettled: () => void, background = false, leaderSignal?: AbortSignal): Flight {
  const controller = leaderSignal === undefined ? new AbortController() : undefined;
  let interest = background ? 1 : 0;
  let responded = false;
  let settled = false;
  let leaderPresent = !background;
  let resolveResult: (result: FlightResult) => void = () => {};
  const result = new Promise<FlightResult>((resolve) => {
    resolveResult = resolve;
  });

  const flight: Flight = {
    signal: leaderSignal ?? (controller as AbortController).signal,
    result,
    get leaderPresent() {
      return leaderPresent && leaderSignal?.aborted !== true;
    },
    join() {
      interest += 1;
    },
    leave() {
      interest -= 1;
      if (interest === 0 && !responded && !settled) {
        controller?.abort(new Error('every request waiting for this origin fetch has gone'));
        flight.settle({ kind: 'released' });
      }
    },
    leaderLeft() {
      if (!leaderPresent) return;
      leaderPresent = false;
      flight.leave();
    },
    responded() {
      responded = true;
    },
    settle(outcome) {
      if (settled) return;
      settled = true;
      onSettled();
      resolveResult(outcome);
    },
  };
  return flight;
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
    options: { register: boolean; background?: boolean; leaderSignal?: AbortSignal },
  ): Flight;
  readonly size: number;
}

/** Creates an empty table. */
export function createFlightTable(): FlightTable {
  const flights = new Map<string, Flight>();
  return {
    get: (key) => flights.get(key),
    start(key, { register, background = false, leaderSignal }) {
      const flight = createFlight(
        () => {
          if (flights.get(key) === flight) flights.delete(key);
        },
        background,
        register ? undefined : leaderSignal,
      );
      if (register) flights.set(key, flight);
      return flight;
    },
    get size() {
      return flights.size;
    },
  };
}
