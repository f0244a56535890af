import type { FlightPlan } from './admit-response.js';
import type { RequestContext } from './cache-context.js';
import type { ForwardReason } from './cache-status.js';
import type { CancelSignal } from './cancellation.js';
import type { Flight } from './flight.js';
import { forwardResponse } from './forward.js';
import { type Found, variantMatches } from './lookup.js';
import { runFlight, staleIfErrorReply } from './origin-fetch.js';
import { allowsStaleIfError } from './policy.js';
import { replyFromStored } from './replies.js';
import { passRequestHeaders } from './request-headers.js';
import type { CacheReply } from './types.js';

/**
 * Gets a response from the origin for a request the store could not answer, coalescing concurrent
 * requests for one key into one origin fetch while the response may still be cacheable:
 * - the first request leads: it fetches, and gets its reply as soon as the headers arrive;
 * - the others wait; the moment the response turns out not storable (at its headers, or mid-body when it
 *   outgrows maxEntryBytes) they are released and each goes to the origin itself, and a key whose
 *   response was not storable is not coalesced again for a while (uncacheable-memory.ts);
 * - if the leader's client leaves, the fetch goes on for the waiters (and for the store); it is aborted
 *   only when nobody at all is waiting for it.
 * HEAD misses are forwarded as HEAD, uncoalesced and unstored, unless a GET for the key is in flight.
 */
export function obtain(
  context: RequestContext,
  signal: CancelSignal,
  stale: Found | undefined,
  fwd: ForwardReason,
): Promise<CacheReply> {
  // Not async: returning runFlight's promise from an async function cost every miss two more
  // microtask turns. A throw here still ends as a rejection: serveNow catches it.
  const { cache, key, request } = context;
  const existing = cache.flights.get(key);
  if (existing !== undefined) return wait(context, signal, existing, stale, fwd);
  if (request.method === 'HEAD' && stale === undefined) return forwardHead(context, signal, fwd);
  return lead(context, signal, { stale, fwd }, !cache.uncacheable.has(key));
}

/** Starts a flight and waits for the leader's part of it; `register: false` lets nobody join it. */
function lead(
  context: RequestContext,
  signal: CancelSignal,
  plan: FlightPlan,
  register: boolean,
): Promise<CacheReply> {
  const flight = context.cache.flights.start(context.key, { register, leaderSignal: signal });
  // A flight nobody can join fetches on the leader's own signal: the fetch and its body stop with the
  // client, so there is no interest to count and no late body to drop (most pass-through traffic).
  if (!register) return runFlight(context, flight, plan);
  flight.join();
  return leaderReply(runFlight(context, flight, plan), flight, signal);
}

/** Waits for another request's flight, then reuses its response, or goes to the origin itself. */
async function wait(
  context: RequestContext,
  signal: CancelSignal,
  flight: Flight,
  stale: Found | undefined,
  fwd: ForwardReason,
): Promise<CacheReply> {
  flight.join();
  let result: Awaited<Flight['result']>;
  try {
    result = await untilAborted(flight.result, signal);
  } finally {
    flight.leave();
  }
  const alone = () =>
    context.request.method === 'HEAD' && stale === undefined
      ? forwardHead(context, signal, fwd)
      : lead(context, signal, { stale, fwd }, false);
  switch (result.kind) {
    case 'entry': {
      if (!variantMatches(result.entry, context.policyRequest)) return alone();
      context.cache.counters.collapsedRequests += 1;
      const found = { entry: result.entry, policy: context.cache.policyOf(result.entry) };
      const facts = { fwd, fwdStatus: result.fwdStatus, collapsed: true };
      return replyFromStored(context, found, result.outcome, facts, true);
    }
    case 'origin-failed':
      if (stale !== undefined && allowsStaleIfError(stale.policy, context.policyRequest)) {
        return staleIfErrorReply(context, stale, result.status);
      }
      if (result.status === undefined) throw result.error;
      return alone();
    case 'released':
      return alone();
  }
}

/**
 * stale-while-revalidate (RFC 5861 §3): refreshes a stored response without a client waiting, one refresh
 * per key at a time (a flight already running for the key is the refresh).
 */
export function refreshInBackground(context: RequestContext, stale: Found): void {
  const { cache, key } = context;
  if (cache.flights.get(key) !== undefined) return;
  cache.counters.backgroundRefreshes += 1;
  const flight = cache.flights.start(key, { register: true, background: true });
  const background = { ...context, request: { ...context.request, method: 'GET' } };
  void flight.result.then((result) => {
    if (result.kind === 'origin-failed') cache.counters.backgroundRefreshErrors += 1;
  });
  runFlight(background, flight, { stale, fwd: 'stale' }).catch(() => {});
}

/** A HEAD miss: forwarded as HEAD and not stored (a HEAD response has no body to fill the cache with). */
async function forwardHead(
  context: RequestContext,
  signal: CancelSignal,
  fwd: ForwardReason,
): Promise<CacheReply> {
  const { request } = context;
  const response = await context.fetchOrigin(
    { method: 'HEAD', headers: passRequestHeaders(request.headers) },
    signal,
  );
  return forwardResponse(
    context.cache.name,
    request,
    response,
    'miss',
    { fwd, fwdStatus: response.status, detail: 'method' },
    'method',
  );
}

/**
 * The leader's side: its reply, unless its client leaves first. Then the flight is told (it goes on for
 * any waiters) and a reply that arrives later has its body destroyed, since nobody will read it.
 */
function leaderReply(reply: Promise<CacheReply>, flight: Flight, signal: CancelSignal): Promise<CacheReply> {
  const abandonBody = (late: CacheReply) => {
    if (late.body !== null && !Buffer.isBuffer(late.body)) late.body.destroy();
  };
  if (signal.aborted) {
    flight.leaderLeft();
    reply.then(abandonBody, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      flight.leaderLeft();
      reply.then(abandonBody, () => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    reply.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        abandonWithClient(value, signal);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * From here the edge streams the body; if the client still goes, stop reading the origin. The listener
 * lives only as long as the body, so a signal shared by many requests does not collect listeners.
 */
function abandonWithClient(reply: CacheReply, signal: CancelSignal): void {
  const { body } = reply;
  if (body === null || Buffer.isBuffer(body) || body.destroyed) return;
  const onAbort = () => body.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  body.once('close', () => signal.removeEventListener('abort', onAbort));
}

/** `promise`, or a rejection with `signal.reason` as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: CancelSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
