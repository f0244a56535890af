import type { Server } from 'node:http';
import type { ClientTimeoutsConfig } from '../config/schema.js';

/**
 * How often node:http looks for requests past their headers or request timeout. Its default, 30 s, would
 * let a 20 s headers timeout run to 50 s; a tenth of the headers timeout (the shorter of the two) keeps
 * the overrun small, capped at a second so an idle server is not woken needlessly, and at least 10 ms.
 * node:http reads it once, when the server starts listening: a reload that shortens the timeouts is
 * honoured within the interval the node started with, so within a second.
 */
export function connectionsCheckingIntervalMs(timeouts: ClientTimeoutsConfig): number {
  return Math.min(1_000, Math.max(10, Math.floor(timeouts.headersMs / 10)));
}

/**
 * Sets `clientTimeouts` on one traffic server, whichever kind of listener feeds it; called when the server
 * is made and again on every reload. Plain properties that node:http reads live: the headers and request
 * timeouts at each check, the keep-alive timeout each time a response ends (plus node's own 1 s margin, so
 * the client, told `Keep-Alive: timeout=…`, gives up on the connection first). `sendMs` is not node:http's:
 * the traffic server's one SendTimeout (lifecycle/send-timeout.ts) serves every listener and takes a
 * reload's value in `useConfig`.
 */
export function applyClientTimeouts(server: Server, timeouts: ClientTimeoutsConfig): void {
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;
}
