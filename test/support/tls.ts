import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { forwardedClientIp, motogpOrder } from './blocking-order.js';
import { type RunningEdge, startEdge, testConfig } from './edge.js';

// The test CA's certificates (fixtures/tls/README.md) and an edge with a plain and a TLS listener.

const fixtures = fileURLToPath(new URL('../../fixtures/tls/', import.meta.url));
export const tlsFixture = (name: string) => join(fixtures, name);
/** `name.pem` (the chain, leaf first) and `name-key.pem`, as a site's or listener's `tls`. */
export const pairOf = (name: string) => ({
  cert: tlsFixture(`${name}.pem`),
  key: tlsFixture(`${name}-key.pem`),
});
/** The test CA: clients trust it only, so a wrong certificate fails loudly. */
export const testCa = readFileSync(tlsFixture('ca.pem'));

/** The MotoGP order, also naming one subdomain of the news site (whose certificate covers it). */
export const tlsPolicy = { orders: [{ ...motogpOrder, hosts: ['motogpstream.me', 'live.news.example'] }] };

export type TlsEdge = { edge: RunningEdge; httpUrl: string; tlsPort: number };

export type TlsEdgeOptions = {
  sites: object[];
  /** The TLS listener's default certificate (a fixture name); default `listener-default`. */
  listenerPair?: string;
  extra?: Record<string, unknown>;
  dir?: string;
};

/** The binary with a plain listener and a TLS one, both on free ports, and `tlsPolicy`. */
export async function startEdgeWithTls(options: TlsEdgeOptions): Promise<TlsEdge> {
  const edge = await startEdge(
    testConfig({
      listen: [
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 0, tls: pairOf(options.listenerPair ?? 'listener-default') },
      ],
      clientIp: forwardedClientIp,
      sites: options.sites,
      policy: { files: ['policy.yaml'] },
      ...options.extra,
    }),
    { 'policy.yaml': tlsPolicy },
    options.dir === undefined ? {} : { dir: options.dir },
  );
  const tlsLine = await edge.waitForLog((line) => line.msg === 'listening' && line.tls === true);
  return { edge, httpUrl: edge.url, tlsPort: Number(new URL(String(tlsLine.listen)).port) };
}

export type TlsResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** SHA-256 fingerprint of the certificate the connection was made with. */
  fingerprint: string | undefined;
};

/**
 * One request over a new TLS connection whose server name (SNI) and Host are chosen separately, as a client
 * trying to reach one site through another site's connection would. The chain is verified, the name not.
 */
export function requestOverTls(
  port: number,
  options: { servername: string; host: string; path?: string; headers?: Record<string, string> },
): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port,
      path: options.path ?? '/',
      servername: options.servername,
      ca: testCa,
      agent: false,
      checkServerIdentity: () => undefined,
      headers: { ...options.headers, host: options.host },
    });
    req.once('response', (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, fingerprint }),
      );
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}
