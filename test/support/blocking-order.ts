import { startEdge, testConfig } from './edge.js';
import { send } from './http.js';
import { startOrigin } from './origin.js';

/** Addresses the MaxMind test database places in a known country (see fixtures/geoip/README.md). */
export const clientIps = { FR: '2a02:cfc0::1', GB: '81.2.69.160', US: '216.160.83.56' } as const;

/** The three domains of the 28 March 2025 Paris MotoGP order, blocked from France. */
export const motogpHosts = ['tarjetarojaenvivo.lat', 'motogpstream.me', 'livetv821.me'] as const;

/**
 * The example order end-to-end tests start from: the Paris MotoGP order, open-ended so it is in force
 * whatever the date the tests run on.
 */
export const motogpOrder = {
  id: 'fr-2025-motogp',
  authority: 'Tribunal judiciaire de Paris',
  reference: 'RG 25/00001',
  url: 'https://www.courdecassation.fr/decision/test-fr-2025-motogp',
  countries: ['FR'],
  hosts: [...motogpHosts],
  from: '2025-03-28T00:00:00Z',
} as const;

/**
 * Client identity for tests: the edge trusts X-Forwarded-For from loopback only, so a test picks the
 * client's country with one header while the edge still runs the real trusted-proxy walk.
 */
export const forwardedClientIp = { source: 'x-forwarded-for', trustedProxies: ['127.0.0.1/32'] } as const;

/** GET / through the edge for `host`, as a client at `ip` behind the trusted loopback proxy; the status. */
export async function statusThroughEdge(edgeUrl: string, host: string, ip: string): Promise<number> {
  const response = await send(`${edgeUrl}/`, { headers: { host, 'x-forwarded-for': ip } });
  return response.status;
}

/**
 * The real binary in front of a fresh origin: one site for `siteHosts`, clients identified by a trusted
 * X-Forwarded-For, and the MotoGP order as its policy file (`policy.yaml`); `overrides` go into the config.
 */
export async function startBlockingEdge(
  siteHosts: readonly string[],
  overrides: Record<string, unknown> = {},
) {
  const origin = await startOrigin();
  const config = testConfig({
    clientIp: forwardedClientIp,
    sites: [{ name: 'streams', hosts: siteHosts, origin: origin.url }],
    policy: { files: ['policy.yaml'] },
    ...overrides,
  });
  const edge = await startEdge(config, { 'policy.yaml': { orders: [motogpOrder] } });
  return { edge, origin, config };
}
