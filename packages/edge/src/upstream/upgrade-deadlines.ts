import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { EdgeError } from '../errors.js';

/** The part of a site's `timeouts` that applies to an upgrade: a tunnel has no body to time. */
export type UpgradeTimeouts = { readonly connectMs: number; readonly headersMs: number };

/**
 * Bounds the wait for the origin's answer to an upgrade as undici bounds a plain request's
 * (origin-pools.ts): `connectMs` to connect, then `headersMs` for the status line (the 101, or a refusal).
 * http-proxy sets no timeout on its upstream request, so an origin that accepts the connection and never
 * answers would otherwise hold the client and the origin connection open for good.
 * A limit that passes destroys the request with EDGE_ORIGIN_TIMEOUT (→ 504, counted as an origin timeout).
 * Once the origin has answered the limits are gone: a tunnel may stay idle as long as both ends like.
 */
export function limitUpgradeWait(request: ClientRequest, timeouts: UpgradeTimeouts): void {
  let timer = expireAfter(request, timeouts.connectMs, 'the origin did not accept the connection');
  request.once('socket', (socket: Socket) => {
    // http-proxy's requests use no agent: the socket is always a new connection, still connecting here.
    const awaitHeaders = () => {
      clearTimeout(timer);
      timer = expireAfter(request, timeouts.headersMs, 'the origin did not answer the upgrade');
    };
    if (socket.connecting) socket.once('connect', awaitHeaders);
    else awaitHeaders();
  });
  const stop = () => clearTimeout(timer);
  request.once('response', stop);
  request.once('upgrade', stop);
  request.once('close', stop);
}

function expireAfter(request: ClientRequest, ms: number, what: string) {
  return setTimeout(() => {
    request.destroy(new EdgeError('EDGE_ORIGIN_TIMEOUT', 'origin', `${what} within ${ms} ms`));
  }, ms);
}
