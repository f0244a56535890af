import { Server as HttpServer } from 'node:http';
import type { Server } from 'node:net';

/**
 * How every benchmark child process (origin, bare server, naive proxy, TCP relay) comes up: listen on
 * loopback, keep idle HTTP connections 75 s (proxies keep pooled connections across the gaps between
 * scenarios; real origins such as nginx allow it), print `{"ready":true,"url":…}` for the launcher, exit 0
 * on SIGTERM.
 */
export function serveChild(server: Server, port: number): void {
  if (server instanceof HttpServer) server.keepAliveTimeout = 75_000;
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    const boundPort = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${boundPort}` })}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
