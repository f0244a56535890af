import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText } from '../src/config/load-config.js';
import { bindListener } from '../src/runtime/bind-listener.js';
import { CertificateStore } from '../src/tls/certificate-store.js';

// Each way of binding a traffic listener (bind-listener.ts), over real sockets: the TCP options of the
// sockets it accepts. The plain listener is node:http's own and is the reference: the TLS and PROXY
// protocol listeners accept with node:net and hand sockets to node:http, which sets no option on them.

const fixtures = fileURLToPath(new URL('../../../fixtures/tls/', import.meta.url));
const listenerTls = {
  cert: join(fixtures, 'listener-default.pem'),
  key: join(fixtures, 'listener-default-key.pem'),
};
const config = parseConfigText(
  stringify({
    listen: [
      { host: '127.0.0.1', port: 0 },
      { host: '127.0.0.1', port: 0, tls: listenerTls },
    ],
    sites: [{ name: 'shop', hosts: ['shop.example'], origin: 'http://127.0.0.1:9' }],
    legal: { blockedBy: 'https://edge.example/legal' },
  }),
  join(fixtures, 'edge451.yaml'),
  {},
);
const logger = pino({ level: 'silent' });
const [plainListener, tlsListener] = config.listeners;

/**
 * node:net keeps what it set on a socket's handle in symbols of the socket (`kSetNoDelay` is what
 * `setNoDelay`, or a server's `noDelay`, set with setsockopt(TCP_NODELAY)). Fails, rather than passing
 * with nothing compared, if a Node version no longer has them.
 */
function tcpOptionsOf(socket: Socket): { noDelay: unknown; keepAlive: unknown } {
  const symbol = (name: string) => {
    const found = Object.getOwnPropertySymbols(socket).find((each) => each.description === name);
    if (found === undefined) throw new Error(`this Node keeps no ${name} on its sockets`);
    return (socket as unknown as Record<symbol, unknown>)[found];
  };
  return { noDelay: symbol('kSetNoDelay'), keepAlive: symbol('kSetKeepAlive') };
}

type Mode = { tls: boolean; proxyProtocol: boolean };

/**
 * Binds a listener in `mode` in front of a node:http server, connects a client that sends what the mode
 * expects (a PROXY v1 header, a TLS handshake), and resolves with the TCP options of the socket the
 * listener accepted, once node:http has been handed the connection.
 */
async function acceptedSocketOptions(mode: Mode) {
  const http = createHttpServer();
  const certificates = mode.tls ? CertificateStore.open(config, logger) : undefined;
  const listener = mode.tls ? tlsListener : plainListener;
  if (listener === undefined) throw new Error('the test config has two listeners');
  const bound = await bindListener(listener, http, {
    certificates,
    proxyProtocol: mode.proxyProtocol ? { isTrustedPeer: () => true } : undefined,
    handshakeMs: () => 10_000,
    logger,
  });
  onTestFinished(async () => {
    http.closeAllConnections();
    certificates?.close();
    await new Promise((resolve) => bound.listener.close(resolve));
  });
  const accepted = once(bound.listener, 'connection') as Promise<[Socket]>;
  const handedToHttp = once(http, 'connection');
  const { port } = bound.listener.address() as AddressInfo;
  const client = connect(port, '127.0.0.1');
  onTestFinished(() => void client.destroy());
  await once(client, 'connect');
  if (mode.proxyProtocol) client.write('PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n');
  if (mode.tls) {
    const tls = connectTls({ socket: client, servername: 'shop.example', rejectUnauthorized: false });
    tls.on('error', () => undefined);
    onTestFinished(() => void tls.destroy());
  }
  await handedToHttp;
  const [socket] = await accepted;
  return tcpOptionsOf(socket);
}

describe('sockets accepted by a traffic listener', () => {
  it("node:http's own listener sets TCP_NODELAY and leaves keep-alive probes off (the reference)", async () => {
    expect(await acceptedSocketOptions({ tls: false, proxyProtocol: false })).toEqual({
      noDelay: true,
      keepAlive: false,
    });
  });

  it.each([
    { tls: true, proxyProtocol: false },
    { tls: false, proxyProtocol: true },
    { tls: true, proxyProtocol: true },
  ])(
    'get the same TCP options as node:http gives its own (tls: $tls, PROXY protocol: $proxyProtocol)',
    async (mode) => {
      expect(await acceptedSocketOptions(mode)).toEqual({ noDelay: true, keepAlive: false });
    },
  );
});
