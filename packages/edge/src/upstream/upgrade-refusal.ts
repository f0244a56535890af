import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RequestContext } from '../lifecycle/context.js';
import { replyFromOrigin } from '../lifecycle/proxy.js';
import { respond } from '../lifecycle/respond.js';

// An origin that answers an upgrade with anything but 101 (a 401, a 403, a redirect, a 426) has refused it,
// and the client gets that answer as a plain response. http-proxy 1.18 relays it itself: it writes the
// origin's header block as received (hop-by-hop fields, `Transfer-Encoding: chunked` included) and pipes
// the decoded body after it, so a chunked refusal reaches the client malformed, and no refusal gets what
// the edge does to every other response. The edge takes that relay over and answers as its normal path does.

/** A listener as `ClientRequest.removeListener` takes it. */
export type Listener = Parameters<ClientRequest['removeListener']>[1];

/**
 * Takes http-proxy's relay of a refusal off `upstream`, keeping the 'response' listeners in `ours`. Call
 * it once `proxy.ws()` has returned.
 *
 * Why this hook: http-proxy's ws pass (lib/http-proxy/passes/ws-incoming.js) emits 'proxyReqWs' and only
 * then adds its own 'response' listener, the relay, all synchronously inside `proxy.ws()`, and sends the
 * request. Listeners added in 'proxyReqWs' run before the relay but cannot stop it (an emit calls every
 * listener it started with). Once `proxy.ws()` has returned, nothing has been read from the origin yet
 * (that needs I/O), so removing the listeners we did not add removes the relay before any answer can reach
 * it. The alternatives were worse: setting `response.upgrade` in a listener that runs first, so the relay
 * skips it, lies about the message and depends on listener order; handing http-proxy a wrapper instead of
 * the client socket would put an extra stream in every tunnel; patching http-proxy (`pnpm patch`) would be
 * a fork to carry for one listener. If a later http-proxy added its relay some other way, the end-to-end
 * tests that parse a refusal byte for byte (test/upgrade-refusal.test.ts) would fail.
 */
export function dropHttpProxyRelay(upstream: ClientRequest, ours: readonly Listener[]): void {
  for (const listener of upstream.listeners('response') as Listener[]) {
    if (!ours.includes(listener)) upstream.removeListener('response', listener);
  }
}

/**
 * Answers the client of a refused upgrade with the origin's answer, built as every proxied response is:
 * `replyFromOrigin` (hop-by-hop fields dropped, `Via` and the site's headers added, a `Location` on the
 * origin's address rewritten; a 426 keeps its `Upgrade`) written by `respond` on the request's own
 * ServerResponse. node:http then
 * frames it as it frames the normal path's, rather than a second framer beside it: the origin's
 * `Content-Length` when it gave one, chunked otherwise, no body for 204 and 304 (nor for a HEAD, though a
 * handshake is always a GET: traffic-server.ts answers anything else 400), and a body the origin breaks off
 * is cut, never completed. The connection is closed afterwards (`Connection: close`): the client asked to
 * switch protocols, and reusing the connection for another request is no part of that. Resolves once the
 * whole answer is handed to the client and the connection is ending; rejects as `respond` does, with both
 * connections destroyed.
 */
export async function relayRefusal(
  ctx: RequestContext,
  socket: Duplex,
  response: IncomingMessage,
): Promise<void> {
  const { res } = ctx;
  res.shouldKeepAlive = false;
  // node:http stops passing the socket's 'drain' to a response once it hands the socket over for an upgrade
  // (it removes its own listener): without this, a body larger than the socket's buffer would stall for good.
  const drain = () => {
    if (res.writableNeedDrain) res.emit('drain');
  };
  socket.on('drain', drain);
  // node:http hands an upgrade a net.Socket (a tls.TLSSocket on a TLS listener), typed as a Duplex.
  res.assignSocket(socket as Socket);
  try {
    // After `shouldKeepAlive = false`: a 426's `Connection` then says `close` too (replyFromOrigin).
    const reply = replyFromOrigin(ctx, {
      status: response.statusCode ?? 502,
      headers: response.headers,
      body: response,
    });
    await respond(ctx, reply);
  } catch (error) {
    response.destroy();
    socket.destroy();
    throw error;
  } finally {
    socket.off('drain', drain);
  }
  socket.end();
  socket.once('finish', () => socket.destroy());
}
