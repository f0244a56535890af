import { once } from 'node:events';
import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net';

/** Starts `server` listening and resolves once it is bound (rejects with the bind error, e.g. EADDRINUSE). */
export async function listen<T extends NetServer>(server: T, host: string, port: number): Promise<T> {
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

/**
 * A TCP listener for connections the edge reads something off (a PROXY header, a TLS handshake) before
 * handing them to node:http with `emit('connection')`; resolves once bound. Its sockets get TCP_NODELAY
 * at accept, as node:http's own listener gives its sockets (`http.createServer`'s `noDelay` defaults to
 * true, `net.createServer`'s to false, and node:http does not set it on a socket it is handed): with
 * Nagle's algorithm on, a streamed response's small write waits for the client's ACK of the previous one,
 * up to a delayed ACK (~40 ms on Linux) per write. `keepAlive` stays off, as node:http leaves it.
 */
export function listenForConnections(
  address: { host: string; port: number },
  onConnection: (socket: Socket) => void,
): Promise<NetServer> {
  return listen(createServer({ noDelay: true }, onConnection), address.host, address.port);
}

/** `scheme://host:port` of a listening server (IPv6 hosts in brackets). */
export function urlOf(server: NetServer, scheme: 'http' | 'https' = 'http'): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}
