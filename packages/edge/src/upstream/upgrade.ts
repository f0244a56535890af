import type { ClientRequest, IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { EdgeError, statusForError, toEdgeError } from '../errors.js';
import type { OpenExchanges, Reply, RequestContext } from '../lifecycle/context.js';
import { originBodyFailure } from '../lifecycle/respond.js';
import { errorReply } from '../reply/plain-reply.js';
import { upstreamRequestHeaders } from './forward-headers.js';
import { limitRefusalBody, limitUpgradeWait } from './upgrade-deadlines.js';
import { dropHttpProxyRelay, type Listener, relayRefusal } from './upgrade-refusal.js';

/**
 * Told once per upgrade, when what the client was answered is known: the origin's 101 (`ctx.status` is set,
 * no error), the origin's refusal once it has been relayed (`ctx.status` is set; with the error that cut it,
 * if one did), or a failure before any answer (502/504 written, or the client gone: no status).
 */
export type UpgradeSettled = (error: EdgeError | undefined) => void;

/**
 * WebSocket proxying with http-proxy, for requests that already passed the policy decision.
 * http-proxy has a history of leaking sockets on upgrade error paths (an upstream request left open when the
 * client leaves before the 101, a half-closed pair when one side errors): every path here destroys both.
 */
export class UpgradeProxy implements OpenExchanges {
  readonly kind = 'websocket';
  private readonly proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, changeOrigin: false });
  /** Upgrades handed to the origin whose client socket is still open: waiting for the 101, or tunnels. */
  private readonly open = new Map<RequestContext, Duplex>();
  private readonly pending = new WeakMap<IncomingMessage, (upstream: ClientRequest) => void>();

  /** `onTunnelError`: a failure after the 101, when the upgrade is already recorded. */
  constructor(private readonly onTunnelError: (error: Error, ctx: RequestContext) => void) {
    // Without an error listener http-proxy rethrows and the process dies; errors arrive per request below.
    this.proxy.on('error', () => undefined);
    this.proxy.on('proxyReqWs', (upstream: ClientRequest, req: IncomingMessage) =>
      this.pending.get(req)?.(upstream),
    );
  }

  /**
   * Proxies an allowed WebSocket upgrade (a GET: http-proxy destroys anything else without a word); the
   * client socket is owned by this class from here on. `settled` is called once, when the client's answer
   * is known.
   */
  forward(ctx: RequestContext, socket: Duplex, head: Buffer, settled: UpgradeSettled): void {
    const { req, site } = ctx;
    if (site === undefined) throw new Error('upgrade reached the proxy without a routed site');
    req.headers = {
      ...upstreamRequestHeaders(ctx),
      connection: 'upgrade',
      upgrade: req.headers.upgrade ?? '',
    };
    // http-proxy sends on its own reading of `req.url`: the target as accept.ts parsed it (origin-form, no
    // fragment) goes instead, so an upgrade reaches the origin as every other request does.
    req.url = ctx.path;
    this.track(ctx, socket);
    let upgraded = false;
    /** The origin refused the upgrade (any answer but 101), and its answer is on its way to the client. */
    let relaying = false;
    let recorded = false;
    const settle = (status: number | undefined, error?: EdgeError) => {
      if (recorded) return;
      recorded = true;
      if (status !== undefined) ctx.status = status;
      settled(error);
    };
    let upstreamRequest: ClientRequest | undefined;
    let ourResponseListeners: Listener[] = [];
    this.pending.set(req, (upstream) => {
      upstreamRequest = upstream;
      limitUpgradeWait(upstream, site.config.timeouts);
      // Any answer but a 101 is a refusal: the client gets it as the normal path answers (upgrade-refusal.ts),
      // recorded once it has been sent (`respond` sets the status), or with the failure that cut it.
      upstream.once('response', (response: IncomingMessage) => {
        relaying = true;
        limitRefusalBody(upstream, response, site.config.timeouts.bodyMs);
        relayRefusal(ctx, socket, response).then(
          () => settle(undefined),
          (error: unknown) => settle(undefined, toEdgeError(error)),
        );
      });
      upstream.on('upgrade', (_response, upstreamSocket: Duplex) => {
        upgraded = true;
        this.pair(socket, upstreamSocket);
        settle(101);
      });
      ourResponseListeners = upstream.listeners('response') as Listener[];
    });
    // The client may leave before the origin answers, or while its refusal is relayed: the upstream request
    // must not outlive it. node:http hands the socket over half-open (allowHalfOpen), so a client that closes
    // (FIN) only emits 'end', and 'close' would wait for our side: a WebSocket client needs its side for the
    // tunnel, so 'end' before the 101 means it has gone (node:http's own server takes a FIN during a plain
    // response the same way: it aborts the request).
    socket.once('end', () => {
      if (!upgraded) socket.destroy();
    });
    socket.once('close', () => {
      if (upgraded) return;
      upstreamRequest?.destroy();
      settle(undefined, new EdgeError('EDGE_CLIENT_ABORTED', 'client', 'client left before its answer'));
    });
    this.proxy.ws(req, socket, head, { target: site.origin.origin }, (error: Error) => {
      if (upgraded) {
        // The client has its 101: nothing more to write.
        this.onTunnelError(error, ctx);
        socket.destroy();
        return;
      }
      if (relaying) {
        // The origin's connection failed while its refusal was relayed: the client's connection is cut (a
        // truncated body, never a complete-looking one) and the failure recorded as the normal path records
        // a body that fails. Here, not when the relay notices: http-proxy ends the client socket right after
        // this callback, and a client that closed its side first would be recorded as having left.
        settle(undefined, originBodyFailure(error));
        socket.destroy();
        return;
      }
      if (recorded) {
        // The client is gone.
        socket.destroy();
        return;
      }
      const failure = toEdgeError(error);
      const status = statusForError(failure);
      if (status === undefined) socket.destroy();
      else writeRawReply(socket, errorReply(status));
      settle(status, failure);
    });
    // http-proxy has added its own relay of a refusal by now: the one above replaces it.
    if (upstreamRequest !== undefined) dropHttpProxyRelay(upstreamRequest, ourResponseListeners);
  }

  /** Open client-side upgrade sockets. */
  get size(): number {
    return this.open.size;
  }

  /** The requests of the open upgrades, each allowed when it was decided. */
  requests(): Iterable<RequestContext> {
    return this.open.keys();
  }

  /** Ends one upgrade: its client socket goes, which takes the origin's down with it (see `pair`). */
  cut(ctx: RequestContext): boolean {
    const socket = this.open.get(ctx);
    if (socket === undefined || socket.destroyed) return false;
    ctx.cut = true;
    socket.destroy();
    return true;
  }

  /** Destroys every proxied connection (shutdown). */
  closeAll(): void {
    for (const socket of this.open.values()) socket.destroy();
    this.proxy.close();
  }

  private track(ctx: RequestContext, socket: Duplex): void {
    this.open.set(ctx, socket);
    socket.once('close', () => this.open.delete(ctx));
    socket.on('error', () => socket.destroy());
  }

  // Whichever side closes or fails first takes the other down: no half-open pair survives. A side that
  // only half-closes (FIN) is given a short grace to finish its close handshake, then both are destroyed.
  private pair(client: Duplex, upstream: Duplex): void {
    upstream.on('error', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const side of [client, upstream]) {
      side.once('end', () => setTimeout(destroyBoth, halfCloseGraceMs).unref());
    }
  }
}

const halfCloseGraceMs = 2_000;

/**
 * Writes a complete HTTP/1.1 response straight onto a socket that node:http handed over (upgrade, CONNECT),
 * then closes it. Used for 4xx, 451 and 502 answers on those paths.
 */
export function writeRawReply(socket: Duplex, reply: Reply): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : '';
  const lines = [`HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}`];
  const headers = { ...reply.headers, 'content-length': Buffer.byteLength(body), connection: 'close' };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${item}`);
  }
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  socket.once('finish', () => socket.destroy());
}
