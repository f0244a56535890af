import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { proxyProtocolAddresses } from '../lifecycle/identify-client.js';
import type { CertificatePair } from './certificate-pair.js';
import { readClientHello } from './read-client-hello.js';
import { rememberServedCertificate } from './served-certificate.js';

/** Options of {@link createTlsAcceptor}. */
export type TlsAcceptorOptions = {
  /** The certificate for a server name (SNI; undefined when the client sent none). Must not throw. */
  selectCertificate: (serverName: string | undefined) => CertificatePair;
  /** Receives each connection once its handshake is done (node:http's `emit('connection')`). */
  handOff: (socket: TLSSocket) => void;
  logger: Logger;
  /**
   * From accepting the TCP connection to the end of the handshake (`clientTimeouts.handshakeMs`), read
   * per connection so that a reload applies to the next one.
   */
  handshakeMs: () => number;
};

/** Takes TCP connections through the TLS handshake for one listener; see {@link createTlsAcceptor}. */
export type TlsAcceptor = {
  /**
   * Takes over a new TCP connection (after any PROXY header): ClientHello, handshake, hand-off.
   * `acceptedAt` is when the TCP connection was accepted: time spent on a PROXY header counts too.
   */
  accept(socket: Socket, acceptedAt?: number): void;
  /** Destroys connections still in their handshake (shutdown). */
  destroyPending(): void;
};

/**
 * Terminates TLS with one certificate per connection, chosen from the ClientHello's server name before
 * OpenSSL starts. Not Node's `SNICallback`: it copies only the chosen certificate of one key type over the
 * default context's, and OpenSSL may then sign with the default certificate of the other key type (an ECDSA
 * default shown to a client that asked for an RSA site: nodejs/node#54235). Here the chosen context is the
 * connection's only context, whatever the key types of the others.
 */
export function createTlsAcceptor(options: TlsAcceptorOptions): TlsAcceptor {
  const { selectCertificate, handOff, logger } = options;
  const pending = new Set<Socket>();

  const accept = (socket: Socket, acceptedAt = Date.now()) => {
    const deadline = acceptedAt + options.handshakeMs();
    pending.add(socket);
    socket.once('close', () => pending.delete(socket));
    // The TLS socket reports its own errors; this keeps a raw-socket error from becoming an uncaught one.
    socket.on('error', () => socket.destroy());
    const refuse = (reason: string, detail?: string) => {
      logger.debug({ peer: socket.remoteAddress, reason, detail }, 'TLS connection refused');
      socket.destroy();
    };
    void readClientHello(socket, Math.max(0, deadline - Date.now()))
      .then((hello) => {
        if (!hello.ok) return refuse(hello.reason, hello.detail);
        const pair = selectCertificate(hello.serverName);
        const tls = new TLSSocket(socket, {
          isServer: true,
          secureContext: pair.context,
          // HTTP/1.1 only for now; a client that offers h2 too picks http/1.1 (RFC 7301 §3.2).
          ALPNProtocols: ['http/1.1'],
        });
        rememberServedCertificate(tls, pair);
        const proxied = proxyProtocolAddresses.get(socket);
        if (proxied !== undefined) proxyProtocolAddresses.set(tls, proxied);
        const timer = setTimeout(() => refuse('handshake-timeout'), Math.max(0, deadline - Date.now()));
        timer.unref();
        const onError = (error: Error) => {
          clearTimeout(timer);
          refuse('handshake-failed', error.message);
          tls.destroy();
        };
        tls.on('error', onError);
        tls.once('secure', () => {
          clearTimeout(timer);
          pending.delete(socket);
          // From here node:http owns the socket and its errors (it answers 400 or closes).
          tls.off('error', onError);
          handOff(tls);
        });
      })
      // Nothing above is expected to throw; if it does, one connection fails, not the process.
      .catch((error: Error) => refuse('internal', error.message));
  };

  return {
    accept,
    destroyPending() {
      for (const socket of pending) socket.destroy();
    },
  };
}
