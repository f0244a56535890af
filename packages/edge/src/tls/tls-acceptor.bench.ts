// TLS handshakes per second through edge451's acceptor (ClientHello scan, then one context per connection)
// against the baseline it replaces: node:https with an SNICallback. Prints figures, asserts nothing.
// Run: pnpm exec tsx packages/edge/src/tls/tls-acceptor.bench.ts
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Server } from 'node:net';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadCertificatePair } from './certificate-pair.js';
import { createTlsAcceptor } from './tls-acceptor.js';

const fixtures = fileURLToPath(new URL('../../../../fixtures/tls/', import.meta.url));
const ca = readFileSync(`${fixtures}ca.pem`);
const pair = loadCertificatePair({ cert: `${fixtures}news-ecdsa.pem`, key: `${fixtures}news-ecdsa-key.pem` });
// The client runs in this process too: the figures include its half of each handshake.
const answer = (_req: IncomingMessage, res: ServerResponse) => res.end('ok');
const runs = 5;
const handshakesPerRun = 400;

async function listening(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function handshakesPerSecond(port: number, count: number): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < count; index += 1) {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', servername: 'news.example', ca }, () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  }
  return count / ((performance.now() - started) / 1000);
}

const http = createHttpServer(answer);
const acceptor = createTlsAcceptor({
  selectCertificate: () => pair,
  handOff: (socket) => http.emit('connection', socket),
  handshakeMs: () => 10_000,
  logger: pino({ level: 'silent' }),
});
const edge = createTcpServer((socket) => acceptor.accept(socket));
const node = createHttpsServer(
  { cert: pair.pem.cert, key: pair.pem.key, SNICallback: (_name, done) => done(null, pair.context) },
  answer,
);
const ports = { edge: await listening(edge), node: await listening(node) };
await handshakesPerSecond(ports.edge, 100);
await handshakesPerSecond(ports.node, 100);
const figures = { edge: [] as number[], node: [] as number[] };
for (let run = 0; run < runs; run += 1) {
  figures.edge.push(await handshakesPerSecond(ports.edge, handshakesPerRun));
  figures.node.push(await handshakesPerSecond(ports.node, handshakesPerRun));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const [edgeMedian, nodeMedian] = [median(figures.edge), median(figures.node)];
console.log(
  `TLS 1.3 handshakes/s, ECDSA P-256, one client in turn, median of ${runs} × ${handshakesPerRun}:\n` +
    `  edge451 acceptor           ${edgeMedian.toFixed(0)}\n` +
    `  node:https + SNICallback   ${nodeMedian.toFixed(0)}\n` +
    `  ratio                      ${(edgeMedian / nodeMedian).toFixed(2)}`,
);
edge.close();
node.close();
