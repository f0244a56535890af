import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { EdgeError } from '../errors.js';

/** The part of a site's `timeouts` that applies to an upgrade: a tunnel has no body to time (a refusal's: below). */
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

/**
 * Bounds the body of an origin's refusal (upgrade-refusal.ts) as undici's `bodyTimeout` bounds a plain
 * response's: `bodyMs` without a byte from the origin destroys the request with EDGE_ORIGIN_TIMEOUT. The
 * client's answer is then cut short (its status line may have gone) and the upgrade recorded as the origin
 * timeout it is. Without it an origin that sent a refusal's head and stalled held both connections for good.
 */
export function limitRefusalBody(request: ClientRequest, response: IncomingMessage, bodyMs: number): void {
  // The socket's idle timer, restarted by every byte read, as undici restarts its timer on every chunk.
  response.setTimeout(bodyMs, () => {
    // A body paused because the client reads slowly waits for the client, not for the origin (undici does
    // not time a paused body either): the timer starts again with the next read.
    if (response.complete || response.readableFlowing === false) return;
    request.destroy(
      new EdgeError('EDGE_ORIGIN_TIMEOUT', 'origin', `the origin's refusal sent no byte for ${bodyMs} ms`),
    );
  });
}

function expireAfter(request: ClientRequest, ms: number, what: string) {
  return setTimeout(() => {
    request.destroy(new EdgeError('EDGE_ORIGIN_TIMEOUT', 'origin', `${what} within ${ms} ms`));
  }, ms);
}
