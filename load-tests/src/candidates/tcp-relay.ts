/**
 * The proxy's hop with nothing in it: each client connection is piped byte for byte to a connection of its
 * own to the origin, no HTTP parsed, no lookup. The latency scenario puts it where a proxy runs (the
 * server's core, in front of the same origin) to measure what the extra hop itself costs in this
 * topology, so that a proxy's added p99 can be read beyond it.
 * `node --import tsx tcp-relay.ts --port N --upstream http://127.0.0.1:PORT`; prints `{"ready":…}`.
 */
import { connect, createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { serveChild } from '../system/serve-child.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, upstream: { type: 'string' } },
});
if (values.upstream === undefined) throw new Error('tcp-relay needs --upstream');
const upstream = new URL(values.upstream);

const server = createServer((client) => {
  const origin = connect(Number(upstream.port), upstream.hostname);
  client.setNoDelay(true);
  origin.setNoDelay(true);
  client.pipe(origin);
  origin.pipe(client);
  // Either side failing ends both: a relay that outlived its peer would hold the other connection open.
  client.on('error', () => origin.destroy());
  origin.on('error', () => client.destroy());
  client.on('close', () => origin.destroy());
  origin.on('close', () => client.destroy());
});

serveChild(server, Number(values.port));
