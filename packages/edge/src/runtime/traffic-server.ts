import { once } from 'node:events';
import { createServer, type IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpCache } from '@edge451/cache';
import type { CountryLocator } from '@edge451/geo';
import type { Logger } from 'pino';
import type { EdgeConfig } from '../config/load-config.js';
import type { RequestContext } from '../lifecycle/context.js';
import { createPhases } from '../lifecycle/create-phases.js';
import { type Phases, runGate, runLifecycle } from '../lifecycle/run-lifecycle.js';
import type { Metrics } from '../observe/metrics.js';
import { plainReply } from '../reply/plain-reply.js';
import { OriginPools } from '../upstream/origin-pools.js';
import { UpgradeProxy, writeRawReply } from '../upstream/upgrade.js';
import type { PolicyView } from './policy-state.js';
import { listenForProxyProtocol } from './proxy-protocol-listener.js';
import { nextRequestId } from './request-id.js';

export type TrafficServer = {
  readonly url: string;
  readonly listening: boolean;
  /** Swaps in phases built from a new config (SIGHUP); in-flight requests finish on the old ones. */
  useConfig(config: EdgeConfig): void;
  /** Stops accepting, drains in-flight requests up to `drainMs`, then cuts what is left. */
  close(drainMs: number): Promise<void>;
};

type Deps = {
  locator: CountryLocator;
  policy: PolicyView;
  cache: HttpCache | undefined;
  logger: Logger;
  metrics: Metrics;
};

/** The traffic listener: every request and Upgrade walks the lifecycle in `run-lifecycle.ts`. */
export async function startTrafficServer(config: EdgeConfig, deps: Deps): Promise<TrafficServer> {
  const { logger } = deps;
  const pools = new OriginPools();
  const build = (next: EdgeConfig) =>
    createPhases({ ...deps, config: next, currentPolicy: () => deps.policy.current(), pools });
  let phases: Phases = build(config);
  const upgrades = new UpgradeProxy((error, ctx) =>
    logger.warn({ err: error, request_id: ctx.id, host: ctx.host }, 'upgrade proxy failed'),
  );

  let inFlight = 0;
  const server = createServer((req, res) => {
    const ctx = createContext(req, res);
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
      if (!res.writableFinished) ctx.abort.abort();
    });
    void runLifecycle(ctx, phases);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    handleUpgrade(createContext(req, new ServerResponse(req)), socket, head, phases, upgrades);
  });
  // The edge is not a forward proxy (DECISIONS #10).
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    writeRawReply(
      socket,
      plainReply(405, 'CONNECT is not supported.', { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' }),
    );
  });

  const listener: NetServer =
    config.clientIp.source === 'proxy-protocol'
      ? await listenForProxyProtocol(server, config.listen, config.clientIp.trustedProxies, logger)
      : await listen(server, config.listen.host, config.listen.port);

  return {
    url: urlOf(listener),
    get listening() {
      return listener.listening;
    },
    useConfig(next) {
      phases = build(next);
    },
    async close(drainMs) {
      listener.close();
      server.close();
      server.closeIdleConnections();
      const deadline = Date.now() + drainMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      server.closeAllConnections();
      upgrades.closeAll();
      await pools.destroy();
    },
  };
}

function createContext(req: IncomingMessage, res: ServerResponse): RequestContext {
  return {
    id: nextRequestId(),
    startedAt: process.hrtime.bigint(),
    req,
    res,
    scheme: 'http',
    path: '/',
    abort: new AbortController(),
  };
}

/** An Upgrade passes the same gate as every request: it is not a side door around the decision. */
function handleUpgrade(
  ctx: RequestContext,
  socket: Duplex,
  head: Buffer,
  phases: Phases,
  proxy: UpgradeProxy,
) {
  const verdict = runGate(ctx, phases);
  if (verdict.next === 'reply') {
    ctx.outcome = verdict.reply.status === 451 ? 'blocked' : 'rejected';
    ctx.status = verdict.reply.status;
    writeRawReply(socket, verdict.reply);
  } else if ((ctx.req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    ctx.outcome = 'rejected';
    ctx.status = 501;
    writeRawReply(socket, plainReply(501, 'Only WebSocket upgrades are proxied.'));
  } else {
    ctx.outcome = 'proxied';
    ctx.status = 101;
    proxy.forward(ctx, socket, head);
  }
  phases.record(ctx, undefined);
}

export async function listen<T extends NetServer>(server: T, host: string, port: number): Promise<T> {
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

export function urlOf(server: NetServer): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
