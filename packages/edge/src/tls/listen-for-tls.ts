import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Logger } from 'pino';
import type { TlsFilesConfig } from '../config/schema.js';
import { listenForConnections } from '../runtime/listen.js';
import { listenForProxyProtocol } from '../runtime/proxy-protocol-listener.js';
import type { CertificateStore } from './certificate-store.js';
import { createTlsAcceptor, type TlsAcceptor } from './tls-acceptor.js';

/** Options of {@link listenForTls}. */
export type ListenForTlsOptions = {
  certificates: CertificateStore;
  /** Set when connections start with a PROXY protocol header (`clientIp.source: proxy-protocol`). */
  proxyProtocol: { isTrustedPeer: (address: string) => boolean } | undefined;
  /** `clientTimeouts.handshakeMs`, read per connection: PROXY header and TLS handshake together. */
  handshakeMs: () => number;
  logger: Logger;
};

/**
 * A TLS listener in front of `http`: TCP → (PROXY header) → ClientHello → handshake with the certificate
 * for its server name → `http.emit('connection', tlsSocket)`, so every request walks the same lifecycle
 * as on a plain listener. Resolves once listening; rejects when the address cannot be bound.
 * The node:http server never listens itself.
 */
export async function listenForTls(
  http: HttpServer,
  address: { host: string; port: number; tls: TlsFilesConfig },
  options: ListenForTlsOptions,
): Promise<{ listener: NetServer; acceptor: TlsAcceptor }> {
  const { certificates, proxyProtocol, handshakeMs, logger } = options;
  const acceptor = createTlsAcceptor({
    selectCertificate: (serverName) => certificates.select(address.tls, serverName),
    handOff: (socket) => http.emit('connection', socket),
    handshakeMs,
    logger,
  });
  if (proxyProtocol !== undefined) {
    // The PROXY header comes first and the ClientHello after it, as a load balancer sends them.
    const listener = await listenForProxyProtocol(
      acceptor.accept,
      address,
      { isTrustedPeer: proxyProtocol.isTrustedPeer, handshakeMs },
      logger,
    );
    return { listener, acceptor };
  }
  const listener = await listenForConnections(address, (socket) => acceptor.accept(socket));
  return { listener, acceptor };
}
