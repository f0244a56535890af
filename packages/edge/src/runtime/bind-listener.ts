import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import type { CertificateStore } from '../tls/certificate-store.js';
import { type ListenForTlsOptions, listenForTls } from '../tls/listen-for-tls.js';
import type { TlsAcceptor } from '../tls/tls-acceptor.js';
import { listen } from './listen.js';
import { listenForProxyProtocol } from './proxy-protocol-listener.js';

/** One bound listener: the TCP listener and the node:http server its connections end up in. */
export type BoundListener = {
  scheme: 'http' | 'https';
  http: Server;
  listener: NetServer;
  acceptor?: TlsAcceptor;
};

/** As for TLS listeners; `certificates` is undefined when no listener terminates TLS. */
export type BindOptions = Omit<ListenForTlsOptions, 'certificates'> & {
  certificates: CertificateStore | undefined;
};

/**
 * Binds one configured listener in front of `http`, in one of three ways: TLS (with or without a PROXY
 * header before the ClientHello), a plain TCP listener that reads the PROXY header first, or `http`
 * listening itself. Whichever it is, connections end in `http`, so every request walks the same lifecycle.
 */
export async function bindListener(
  config: ListenerConfig,
  http: Server,
  { certificates, proxyProtocol, handshakeMs, logger }: BindOptions,
): Promise<BoundListener> {
  if (config.tls !== undefined && certificates !== undefined) {
    const address = { host: config.host, port: config.port, tls: config.tls };
    const tls = await listenForTls(http, address, { certificates, proxyProtocol, handshakeMs, logger });
    return { scheme: 'https', http: trackingConnections(http), ...tls };
  }
  if (proxyProtocol === undefined) {
    return { scheme: 'http', http, listener: await listen(http, config.host, config.port) };
  }
  const listener = await listenForProxyProtocol(
    (socket) => http.emit('connection', socket),
    config,
    { isTrustedPeer: proxyProtocol.isTrustedPeer, handshakeMs },
    logger,
  );
  return { scheme: 'http', http: trackingConnections(http), listener };
}

/**
 * node:http starts tracking its connections (which `headersTimeout`, `requestTimeout` and
 * `closeIdleConnections` all work from) when the server emits 'listening'. A server fed connections by
 * another listener never listens itself, so without this its TLS and PROXY-protocol clients were never
 * timed out (slowloris) and idle keep-alive connections stayed open, and served, through a SIGTERM drain.
 */
function trackingConnections(http: Server): Server {
  http.emit('listening');
  return http;
}
