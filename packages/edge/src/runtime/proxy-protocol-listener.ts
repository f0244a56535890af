import type { Server as NetServer, Socket } from 'node:net';
import { readProxyProtocolHeader } from '@edge451/geo';
import type { Logger } from 'pino';
import { proxyProtocolAddresses } from '../lifecycle/identify-client.js';
import { listenForConnections } from './listen.js';

/**
 * Listens with a plain TCP server that reads the PROXY protocol header (v1 or v2) off each connection
 * before handing it to node:http. The header is honoured only from a trusted peer; a connection that does
 * not start with a valid header from a trusted peer is closed, because a load balancer that speaks PROXY
 * always sends it and anyone else sending one is forging a client address.
 * `isTrustedPeer` and `handshakeMs` are asked on every connection, so a reload applies to the next one. The
 * header must arrive within `handshakeMs` of the accept; `handOff` gets the accept time, so that a TLS
 * handshake after the header has only what is left of it.
 * Returns the TCP listener: the node:http server never listens itself in this mode.
 */
export function listenForProxyProtocol(
  handOff: (socket: Socket, acceptedAt: number) => void,
  listen: { host: string; port: number },
  peer: { isTrustedPeer: (address: string) => boolean; handshakeMs: () => number },
  logger: Logger,
): Promise<NetServer> {
  return listenForConnections(listen, (socket: Socket) => {
    const acceptedAt = Date.now();
    const trustedPeer = peer.isTrustedPeer(socket.remoteAddress ?? '');
    readProxyProtocolHeader(socket, { trustedPeer, timeoutMs: peer.handshakeMs() })
      .then((result) => {
        if (!result.ok) {
          logger.debug(
            { peer: socket.remoteAddress, reason: result.reason },
            'PROXY protocol header refused',
          );
          socket.destroy();
          return;
        }
        if (result.sourceAddress !== null) proxyProtocolAddresses.set(socket, result.sourceAddress);
        handOff(socket, acceptedAt);
      })
      // Nothing above is expected to throw; if it does, one connection fails, not the process.
      .catch((error: Error) => {
        logger.warn({ err: error, peer: socket.remoteAddress }, 'connection failed after its PROXY header');
        socket.destroy();
      });
  });
}
