import type { Socket } from 'node:net';
import type { CertificatePair } from './certificate-pair.js';

// Set by the TLS acceptor when it picks a certificate, read by the `checkCertificate` phase. Keyed by the
// TLS socket node:http hands to requests; a renewal later does not change what this connection was shown.
const served = new WeakMap<Socket, CertificatePair>();

/** Records the certificate a TLS connection was given (the acceptor calls this before the handshake). */
export function rememberServedCertificate(socket: Socket, pair: CertificatePair): void {
  served.set(socket, pair);
}

/** The certificate this connection's client was shown; undefined on a plain-HTTP connection. */
export function certificateServedOn(socket: Socket): CertificatePair | undefined {
  return served.get(socket);
}
