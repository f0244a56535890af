// For a process that serves without cli/main.ts (an embedder of startEdgeNode): see tick-shape.ts.
import './tick-shape.js';
import { createServer, type IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpCache } from '@edge451/cache';
import { type CountryLocator, createTrustedPeerCheck } from '@edge451/geo';
import type { Logger } from 'pino';
import type { EdgeConfig } from '../config/load-config.js';
import type { ListenerConfig } from '../config/schema.js';
import { type EdgeError, toEdgeError } from '../errors.js';
import { FORWARDED_METHODS } from '../lifecycle/answered-here.js';
import { ClientAbort } from '../lifecycle/client-abort.js';
import type { Reply, RequestContext } from '../lifecycle/context.js';
import { createPhases } from '../lifecycle/create-phases.js';
import {
  outcomeOfError,
  outcomeOfGateReply,
  type Phases,
  recordSafely,
  runGate,
  runLifecycle,
} from '../lifecycle/run-lifecycle.js';
import { SendTimeout } from '../lifecycle/send-timeout.js';
import type { Metrics } from '../observe/metrics.js';
import { plainReply } from '../reply/plain-reply.js';
import { CertificateStore } from '../tls/certificate-store.js';
import { OriginPools } from '../upstream/origin-pools.js';
import { UpgradeProxy, writeRawReply } from '../upstream/upgrade.js';
import { type BoundListener, bindListener } from './bind-listener.js';
import type { Rechecks } from './block-rechecks.js';
import { applyClientTimeouts, connectionsCheckingIntervalMs } from './client-timeouts.js';
import { ConnectionSlots } from './connection-slots.js';
import { cutWhenBlocked } from './cut-when-blocked.js';
import { urlOf } from './listen.js';
import { OpenResponses } from './open-responses.js';
import type { PolicyView } from './policy-state.js';
import { closeWithConnection } from './queued-responses.js';
import { nextRequestId } from './request-id.js';

export type TrafficServer = {
  /** URL of the first listener: `http://host:port`, or `https://…` when it terminates TLS. */
  readonly url: string;
  /** URL of every listener, in the order of `listen`. */
  readonly urls: readonly string[];
  readonly listening: boolean;
  /**
   * Swaps in phases built from a new config (SIGHUP); in-flight requests finish on the old ones. The new
   * client timeouts apply at once, to connections already open too.
   */
  useConfig(config: EdgeConfig): void;
  /** Stops accepting, drains in-flight requests up to `drainMs`, then cuts what is left. */
  close(drainMs: number): Promise<void>;
};

type Deps = {
  locator: CountryLocator;
  policy: PolicyView;
  /** When a block may have started: the policy changed, or an order's window opened. */
  rechecks: Rechecks;
  cache: HttpCache | undefined;
  logger: Logger;
  metrics: Metrics;
};

type Scheme = RequestContext['scheme'];

/**
 * The traffic listeners, plain or TLS, one node:http server each: every request and Upgrade, whichever
 * listener it came in on, walks the lifecycle in `run-lifecycle.ts` with the same phases; only `scheme`
 * differs. TLS listeners share one certificate store that follows renewals on disk.
 * Rejects, with nothing left listening, when a listener cannot be bound or a certificate cannot be loaded.
 */
export async function startTrafficServer(config: EdgeConfig, deps: Deps): Promise<TrafficServer> {
  const { logger } = deps;
  const pools = new OriginPools();
  const certificates = config.listeners.some((listener) => listener.tls !== undefined)
    ? CertificateStore.open(config, logger)
    : undefined;
  // The configured port until the listener is bound (port 0 picks one).
  let httpsPort = config.listeners.find((listener) => listener.tls !== undefined)?.port;
  const slots = new ConnectionSlots();
  const responses = new OpenResponses();
  /**
   * From the gate on, a request that goes to the cache or origin is an open response until it closes: the
   * drain waits for it, a block that arrives meanwhile cuts it, an Upgrade behind it on its connection waits
   * for it, and its client's leaving aborts its fetch. One answered at the gate (451, 400, 308) is written
   * in the turn it arrived in and needs none of that: not tracking it saves a 451 ~2,400 instructions
   * (bench:instructions). One queued behind a tracked response goes out when that one finishes, before the
   * tracked one's 'close', which is what an Upgrade waits for.
   */
  const trackUntilClosed = (ctx: RequestContext) => {
    const { res } = ctx;
    responses.add(ctx);
    res.once('close', () => {
      responses.delete(ctx);
      slots.release(ctx);
      if (!res.writableFinished) ctx.abort.abort();
    });
  };
  const build = (next: EdgeConfig): Phases => {
    const built = createPhases({
      ...deps,
      config: next,
      currentPolicy: () => deps.policy.current(),
      pools,
      httpsPort: () => (httpsPort === 0 ? undefined : httpsPort),
    });
    // A request goes to the cache or origin only with one of its connection's slots (connection-slots.ts).
    const fetch = built.fetch;
    return {
      ...built,
      fetch: (ctx) => {
        trackUntilClosed(ctx);
        const waiting = slots.acquire(ctx);
        return waiting === undefined ? fetch(ctx) : waiting.then(() => fetch(ctx));
      },
    };
  };
  let phases: Phases = build(config);
  const upgrades = new UpgradeProxy((error, ctx) =>
    logger.warn({ err: error, request_id: ctx.id, host: ctx.host }, 'upgrade tunnel failed'),
  );

  const sendTimeout = new SendTimeout(config.clientTimeouts.sendMs, (socket, pendingBytes) => {
    deps.metrics.clientSendTimeouts.inc();
    logger.info(
      { client_address: socket.remoteAddress, pending_bytes: pendingBytes },
      'client send timeout: connection closed',
    );
  });

  // Tunnels and responses whose host becomes blocked for their client are cut when the order arrives, or
  // when its window opens, not when they end.
  cutWhenBlocked(deps.rechecks, [upgrades, responses], logger, deps.metrics);

  /**
   * node:http hands over the socket of an Upgrade or a CONNECT as soon as it is parsed, even behind
   * pipelined requests still being answered; answers must go out in the order of the requests (RFC 9112
   * §9.3.2), or the client takes a 451 meant for the upgrade as the answer to its earlier request. So it
   * waits for them, paused: what the client sends after its handshake stays in the socket meanwhile.
   */
  const afterEarlierResponses = (socket: Duplex, then: () => void) => {
    const earlier = responses.earlierOn(socket);
    if (earlier === undefined) return then();
    socket.pause();
    void earlier.then(() => {
      if (!socket.destroyed) then();
    });
  };

  const createHttpServer = (scheme: Scheme) => {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      const ctx = createContext(req, res, scheme, sendTimeout);
      // Queued behind an earlier response of its connection (pipelining): node:http would not close it.
      if (res.socket === null) closeWithConnection(res, req.socket);
      void runLifecycle(ctx, phases);
    };
    const connectionsCheckingInterval = connectionsCheckingIntervalMs(config.clientTimeouts);
    const server = createServer({ connectionsCheckingInterval }, onRequest);
    applyClientTimeouts(server, config.clientTimeouts);
    // `Expect: 100-continue` is answered by the proxy phase, once the request has passed the gate: node:http
    // would send 100 Continue at once, telling a client about to get its 451 to upload its body first.
    server.on('checkContinue', onRequest);
    // node:http keeps only the first 1,000 header lines by default and drops the rest without a word: a
    // client could push a trusted proxy's X-Forwarded-For, appended after its own lines, out of the request.
    // Every line is read instead; the header size limit (16 KiB) still bounds the work.
    server.maxHeadersCount = 0;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      afterEarlierResponses(socket, () =>
        handleUpgrade(
          createContext(req, new ServerResponse(req), scheme, undefined),
          socket,
          head,
          phases,
          upgrades,
        ),
      );
    });
    // The edge is not a forward proxy (DECISIONS #10).
    server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
      socket.on('error', () => socket.destroy());
      afterEarlierResponses(socket, () =>
        writeRawReply(socket, plainReply(405, 'CONNECT is not supported.', { allow: FORWARDED_METHODS })),
      );
    });
    return server;
  };

  // Whether a listener reads PROXY headers is fixed at bind; whom it believes, and how long a connection has
  // for its PROXY header and TLS handshake, follow reloads.
  let isTrustedProxy = createTrustedPeerCheck(config.clientIp.trustedProxies);
  let handshakeMs = config.clientTimeouts.handshakeMs;
  const proxyProtocol =
    config.clientIp.source === 'proxy-protocol'
      ? { isTrustedPeer: (address: string) => isTrustedProxy(address) }
      : undefined;
  const bind = (listener: ListenerConfig) =>
    bindListener(listener, createHttpServer(listener.tls === undefined ? 'http' : 'https'), {
      certificates,
      proxyProtocol,
      handshakeMs: () => handshakeMs,
      logger,
    });
  const bound: BoundListener[] = [];
  try {
    for (const listener of config.listeners) bound.push(await bind(listener));
  } catch (error) {
    for (const each of bound) each.listener.close();
    certificates?.close();
    await pools.destroy();
    throw error;
  }
  const firstTls = bound.find((each) => each.scheme === 'https');
  if (firstTls !== undefined) httpsPort = (firstTls.listener.address() as AddressInfo).port;
  const urls = bound.map((each) => urlOf(each.listener, each.scheme));
  for (const [index, each] of bound.entries()) {
    logger.info({ listen: urls[index], tls: each.scheme === 'https' }, 'listening');
  }

  return {
    url: urls[0] ?? '',
    urls,
    get listening() {
      return bound.every((each) => each.listener.listening);
    },
    useConfig(next) {
      phases = build(next);
      for (const each of bound) applyClientTimeouts(each.http, next.clientTimeouts);
      sendTimeout.ms = next.clientTimeouts.sendMs;
      isTrustedProxy = createTrustedPeerCheck(next.clientIp.trustedProxies);
      handshakeMs = next.clientTimeouts.handshakeMs;
      try {
        certificates?.useConfig(next);
      } catch (error) {
        logger.error({ err: error }, "sites' certificates not reloaded; the previous ones stay in use");
      }
    },
    async close(drainMs) {
      for (const each of bound) {
        each.listener.close();
        each.http.close();
        each.http.closeIdleConnections();
        each.acceptor?.destroyPending();
      }
      certificates?.close();
      const deadline = Date.now() + drainMs;
      while (responses.size > 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      for (const each of bound) each.http.closeAllConnections();
      upgrades.closeAll();
      await pools.destroy();
    },
  };
}

function createContext(
  req: IncomingMessage,
  res: ServerResponse,
  scheme: Scheme,
  sendTimeout: SendTimeout | undefined,
): RequestContext {
  return {
    id: nextRequestId(),
    startedAt: process.hrtime.bigint(),
    req,
    res,
    scheme,
    path: '/',
    abort: new ClientAbort(),
    sendTimeout,
  };
}

/**
 * An Upgrade passes the same gate as every request: it is not a side door around the decision. It is
 * recorded once the client's answer is known: the gate's, the edge's refusal, or (handed to the origin)
 * the 101, the origin's own refusal, or the 502/504 of a failure.
 */
function handleUpgrade(
  ctx: RequestContext,
  socket: Duplex,
  head: Buffer,
  phases: Phases,
  proxy: UpgradeProxy,
) {
  let error: EdgeError | undefined;
  try {
    const verdict = runGate(ctx, phases);
    const refusal = verdict.next === 'reply' ? verdict.reply : refuseUpgrade(ctx);
    if (refusal === undefined) {
      proxy.forward(ctx, socket, head, (failure) => {
        ctx.outcome = failure === undefined ? 'proxied' : outcomeOfError(failure);
        recordSafely(ctx, phases, failure);
      });
      return;
    }
    ctx.outcome = verdict.next === 'reply' ? outcomeOfGateReply(refusal.status) : 'rejected';
    ctx.status = refusal.status;
    writeRawReply(socket, refusal);
  } catch (thrown) {
    // An event handler that throws would take the process down: fail this connection only.
    error = toEdgeError(thrown);
    ctx.outcome = 'error';
    socket.destroy();
  }
  recordSafely(ctx, phases, error);
}

/**
 * The edge's own answer to an upgrade that passed the gate but is not one it proxies; undefined to proxy it.
 * http-proxy speaks WebSocket only (501 for the rest, e.g. h2c), and would destroy a non-GET handshake
 * without a word: RFC 6455 §4.1 makes the handshake a GET, and §4.2.1 answers an invalid one with 400.
 */
function refuseUpgrade(ctx: RequestContext): Reply | undefined {
  if ((ctx.req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    return plainReply(501, 'Only WebSocket upgrades are proxied.');
  }
  if (ctx.req.method !== 'GET') {
    return plainReply(400, 'A WebSocket handshake is a GET request (RFC 6455 section 4.1).');
  }
  return undefined;
}
