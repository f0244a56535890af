/**
 * The proxy people write first: http-proxy, a maxmind lookup of the client address and a Set of blocked
 * hosts. It is a candidate, not a strawman: it reuses upstream connections (a keep-alive agent) and trusts
 * X-Forwarded-For only from the configured proxy, like edge451. It has no cache, no host normalisation
 * beyond lower-casing and dropping the port, and no order windows.
 * `node --import tsx naive-proxy.ts --port N --origin URL --mmdb FILE --blocked-hosts FILE --countries FR,GB
 *  --trusted 127.0.0.1 [--blocked-body FILE --blocked-headers FILE]`; prints `{"ready":…}`. Its 451 is
 *  edge451's own bytes (blocked-answer.ts), as the bare server's is.
 */
import { readFileSync } from 'node:fs';
import { Agent, createServer } from 'node:http';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';
import maxmind, { type CountryResponse } from 'maxmind';
import { serveChild } from '../system/serve-child.js';
import { readBlockedAnswer } from './blocked-answer.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    origin: { type: 'string' },
    mmdb: { type: 'string' },
    'blocked-hosts': { type: 'string' },
    countries: { type: 'string', default: 'FR,GB' },
    trusted: { type: 'string', default: '127.0.0.1' },
    'blocked-body': { type: 'string' },
    'blocked-headers': { type: 'string' },
  },
});
if (values.origin === undefined || values.mmdb === undefined || values['blocked-hosts'] === undefined) {
  throw new Error('naive-proxy needs --origin, --mmdb and --blocked-hosts');
}

const blockedHosts = new Set(readFileSync(values['blocked-hosts'], 'utf8').split('\n').filter(Boolean));
const blockedCountries = new Set(values.countries.split(','));
const trusted = new Set(values.trusted.split(','));
const blocked = readBlockedAnswer(values['blocked-body'], values['blocked-headers']);
const reader = await maxmind.open<CountryResponse>(values.mmdb, { watchForUpdates: false });
const proxy = httpProxy.createProxyServer({
  target: values.origin,
  agent: new Agent({ keepAlive: true, maxSockets: 128 }),
});
// The one fix this proxy has over a first draft: http-proxy does not abort the upstream request when the
// client leaves mid-body (the request itself was complete), so with a bounded keep-alive pool every such
// socket stays stuck, and after a few load runs ending mid-transfer of 1 MiB bodies the proxy hangs.
proxy.on('proxyReq', (proxyReq, _req, res) => {
  res.on('close', () => {
    if (!res.writableFinished) proxyReq.destroy();
  });
});
proxy.on('error', (_error, _req, res) => {
  if (!('writeHead' in res)) {
    res.destroy();
    return;
  }
  if (!res.headersSent) res.writeHead(502);
  res.end();
});

function clientIpOf(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
): string | undefined {
  const address = peer?.startsWith('::ffff:') ? peer.slice(7) : peer;
  if (address === undefined || !trusted.has(address) || typeof forwardedFor !== 'string') return address;
  const hops = forwardedFor.split(',');
  return hops[hops.length - 1]?.trim();
}

const server = createServer((req, res) => {
  const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
  if (blockedHosts.has(host)) {
    const ip = clientIpOf(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    const country = ip !== undefined && maxmind.validate(ip) ? reader.get(ip)?.country?.iso_code : undefined;
    if (country !== undefined && blockedCountries.has(country)) {
      res.writeHead(blocked.status, blocked.headers);
      res.end(blocked.body);
      return;
    }
  }
  proxy.web(req, res);
});

serveChild(server, Number(values.port));
