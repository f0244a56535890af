import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { CacheOutcome, NotStoredReason } from '@edge451/cache';
import type { CountrySource } from '@edge451/geo';
import type { Decision } from '@edge451/policy';
import type { ConnectionSlot } from '../runtime/connection-slots.js';
import type { ClientAbort } from './client-abort.js';
import type { Site } from './route.js';
import type { SendTimeout } from './send-timeout.js';

/** What a request ended as: the word used in logs and the `outcome` metric label. */
export type Outcome =
  | 'proxied'
  | 'hit'
  | 'miss'
  | 'blocked'
  | 'rejected' // 4xx from the edge itself (bad Host, no site, bad method, TRACE, certificate not for this host), 501 for OPTIONS *
  | 'redirected' // 308 to https (`redirectToHttps`)
  | 'error'
  | 'aborted'
  | 'cut'; // a block came into force for its host and client country while it was still open (cut-when-blocked.ts)

/** The client as the edge sees it, after the trusted-proxy walk and the country lookup. */
export type Client = {
  ip: string;
  country: string | null;
  countrySource: CountrySource;
  /** Where the IP came from: the socket, or a header/PROXY header from a trusted peer. */
  ipFrom: string;
  peerTrusted: boolean;
  /** The socket peer, normalised: the hop the edge appends to X-Forwarded-For. */
  peerIp: string;
  /** A forwarding header from a trusted peer was unusable: the peer's address was used. */
  malformedForwarding: boolean;
};

/** An answer the edge gives itself (400, 421, 451, 502…) or relays (origin or cache). */
export type Reply = {
  status: number;
  headers: OutgoingHttpHeaders;
  body: string | Buffer | Readable | null;
};

/** A phase's verdict: go on, or answer now. Phases never throw to say "blocked" or "bad request". */
export type Verdict = { next: 'continue' } | { next: 'reply'; reply: Reply };
export const CONTINUE: Verdict = Object.freeze({ next: 'continue' });
export const replyWith = (reply: Reply): Verdict => ({ next: 'reply', reply });

/**
 * Everything the phases learn about one request (Pingora's per-request CTX): a later phase reads it
 * instead of recomputing. One per request, created by `accept`.
 */
export type RequestContext = {
  readonly id: string;
  readonly startedAt: bigint;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The scheme the client used to reach the edge: `https` on a TLS listener. */
  readonly scheme: 'http' | 'https';
  /** Authority from an absolute-form target, else the Host header; raw, not yet normalised. */
  authority?: string;
  /** Origin-form path and query to send upstream. */
  path: string;
  client?: Client;
  host?: string;
  /**
   * Other hosts a trusted proxy's headers tell the origin of (`X-Forwarded-Host`, `Forwarded: host=`…),
   * normalised; decided with `host` (normalize-host.ts). Unset for nearly every request.
   */
  claimedHosts?: readonly string[];
  site?: Site;
  decision?: Decision;
  cache?: { outcome: CacheOutcome; notStored?: NotStoredReason };
  outcome?: Outcome;
  status?: number;
  /** A block that came into force while this request was still being answered ended it (cut-when-blocked.ts). */
  cut?: true;
  /** Aborted when the client goes away: cancels the upstream request. */
  readonly abort: ClientAbort;
  /** The traffic server's client send timeout (one object shared by its requests); unset in unit tests. */
  readonly sendTimeout?: SendTimeout;
  /** The connection's fetch slots this request holds or waits for (runtime/connection-slots.ts). */
  fetchSlot?: ConnectionSlot | undefined;
  /** Where the traffic server's open responses hold this request (runtime/open-responses.ts). */
  openAt?: number | undefined;
};

/**
 * Requests of one kind the edge is still answering after they were allowed (WebSocket upgrades, responses
 * being sent): what a block that comes into force meanwhile must reach (runtime/cut-when-blocked.ts).
 */
export interface OpenExchanges {
  readonly kind: 'websocket' | 'response';
  readonly size: number;
  requests(): Iterable<RequestContext>;
  /** Ends one at once, both sides; false when it had ended already. */
  cut(ctx: RequestContext): boolean;
}
