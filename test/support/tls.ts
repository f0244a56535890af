import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
