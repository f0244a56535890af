import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientIps, forwardedClientIp, motogpOrder } from './support/blocking-order.js';
import { until } from './support/cluster.js';
import { countryTestDatabase, type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { send, statusOf } from './support/http.js';
import type { TestOrigin } from './support/origin.js';
import { closedWithin, openUpgrade, startWsOrigin, wsRequest } from './support/websocket.js';

// WebSocket upgrades through the real binary, a WebSocket origin and raw sockets: origins that stall,
// clients that leave before the 101, what the request log says, and blocks that arrive while a tunnel is
// open. (Older upgrade cases: proxy-upstream.test.ts and bypass.test.ts.)

const { GB } = clientIps;
const siteHosts = ['motogpstream.me', 'fine.example', '*.mirrors.test'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One edge in front of `origin`: the MotoGP order, the sites' hosts, loopback a trusted proxy. */
async function startUpgradeEdge(
  origin: TestOrigin,
  options: { site?: Record<string, unknown>; extra?: Record<string, unknown> } = {},
): Promise<RunningEdge> {
  return startEdge(
    testConfig({
      clientIp: forwardedClientIp,
      geoip: { database: countryTestDatabase, overrides: [{ cidr: '127.0.0.0/8', country: 'FR' }] },
      sites: [{ name: 'streams', hosts: siteHosts, origin: origin.url, ...options.site }],
      policy: { files: ['policy.yaml'] },
      ...options.extra,
    }),
    { 'policy.yaml': { orders: [motogpOrder] } },
  );
}

describe('origins that stall and clients that leave before the 101', () => {
  it("an origin that never answers an upgrade is cut off (504) once the site's headersMs has passed", async () => {
    const ws = await startWsOrigin();
    const edge = await startUpgradeEdge(ws.origin, {
      site: { timeouts: { connectMs: 300, headersMs: 300, bodyMs: 300 } },
    });
    const { first, socket } = await openUpgrade(
      edge.url,
      wsRequest('fine.example', [`X-Forwarded-For: ${GB}`], '/silent'),
      2_000,
    );
    expect(ws.upgrades).toHaveLength(1);
    expect(statusOf(first)).toBe(504);
    expect(await closedWithin(socket, 1_000)).toBe(true);
    expect(await closedWithin(ws.sockets[0] as Socket, 1_000)).toBe(true);
    // Recorded and counted as the origin timeout it is, as a plain request's 504 would be.
    expect(edge.logs().find((line) => line.path === '/silent')).toMatchObject({
      status: 504,
      outcome: 'error',
      error_code: 'EDGE_ORIGIN_TIMEOUT',
    });
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.body).toContain('edge451_origin_errors_total{code="EDGE_ORIGIN_TIMEOUT"} 1');
  });

  it('a client that leaves before the 101 takes the origin connection down with it', async () => {
    const ws = await startWsOrigin();
    const edge = await startUpgradeEdge(ws.origin);
    const { socket } = await openUpgrade(
      edge.url,
      wsRequest('fine.example', [`X-Forwarded-For: ${GB}`], '/silent'),
      300,
    );
    await until(() => ws.sockets.length === 1, 'the origin saw the upgrade', 3_000);
    socket.destroy();
    expect(await closedWithin(ws.sockets[0] as Socket, 3_000)).toBe(true);
    const line = await edge.waitForLog((each) => each.path === '/silent', 3_000);
    expect(line).toMatchObject({ outcome: 'aborted', error_code: 'EDGE_CLIENT_ABORTED' });
  });
});

describe('the request log of an upgrade', () => {
  it('records what the client of an upgrade was answered, and every upgrade gets an answer', async () => {
    const ws = await startWsOrigin();
    const edge = await startUpgradeEdge(ws.origin);
    const refused = await openUpgrade(
      edge.url,
      wsRequest('fine.example', [`X-Forwarded-For: ${GB}`], '/refuse'),
    );
    expect(statusOf(refused.first)).toBe(426);
    const post = await openUpgrade(
      edge.url,
      wsRequest('fine.example', [`X-Forwarded-For: ${GB}`, 'Content-Length: 0'], '/post', 'POST'),
    );
    const switched = await openUpgrade(
      edge.url,
      wsRequest('fine.example', [`X-Forwarded-For: ${GB}`], '/chat'),
    );
    expect(statusOf(switched.first)).toBe(101);
    await sleep(300);
    const logged = (path: string) => edge.logs().find((line) => line.path === path)?.status;
    expect({
      refusedLogged: logged('/refuse'),
      postAnswered: Number.isInteger(statusOf(post.first)),
      postLoggedAsAnswered: logged('/post') === statusOf(post.first),
    }).toEqual({ refusedLogged: 426, postAnswered: true, postLoggedAsAnswered: true });
    // The handshake is a GET (RFC 6455 §4.1): anything else is the edge's 400, and never reaches the origin.
    expect(statusOf(post.first)).toBe(400);
    expect(ws.upgrades.map((upgrade) => upgrade.url)).toEqual(['/refuse', '/chat']);
    expect(edge.logs().find((line) => line.path === '/chat')).toMatchObject({
      status: 101,
      outcome: 'proxied',
    });
    expect(edge.logs().find((line) => line.path === '/post')).toMatchObject({ outcome: 'rejected' });
  });
});
