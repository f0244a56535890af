import { once } from 'node:events';
import type { AddressInfo, Server as NetServer } from 'node:net';

/** Starts `server` listening and resolves once it is bound (rejects with the bind error, e.g. EADDRINUSE). */
export async function listen<T extends NetServer>(server: T, host: string, port: number): Promise<T> {
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

/** `scheme://host:port` of a listening server (IPv6 hosts in brackets). */
export function urlOf(server: NetServer, scheme: 'http' | 'https' = 'http'): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}
