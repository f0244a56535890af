import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { type ChangeAnswer, callAdmin } from './support/admin.js';
import { clientIps, forwardedClientIp, statusThroughEdge } from './support/blocking-order.js';
import { until } from './support/cluster.js';
import { type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { send, sendRaw, statusOf } from './support/http.js';
import {
  closedWithin,
  echoOf,
  type Opened,
  openUpgrade,
  startWsOrigin,
  type WsOrigin,
  wsRequest,
} from './support/websocket.js';

// An order whose window opens while tunnels and streams to its host are open, with no policy change at
// that instant: the order was put through the admin API a little earlier, or (workers: 2) is in the policy
// file the edge started with. The real binary, a real origin, raw sockets.

const { FR, GB } = clientIps;
const host = 'window.example';
const cutMessage = 'cut: its host is now blocked for the client';
const boundaryMessage = 'order window boundary passed: open exchanges and the cache checked again';

/** The order under test: `host`, from France, in force from `from` (until `until`, if given). */
function windowOrder(from: number, untilMs?: number) {
  return {
    id: 'fr-window',
    authority: 'Tribunal judiciaire de Paris',
    reference: 'RG 26/00451',
    countries: ['FR'],
    hosts: [host],
    from: new Date(from).toISOString(),
    ...(untilMs === undefined ? {} : { until: new Date(untilMs).toISOString() }),
  };
}

/** Plain requests: `/live` streams a frame every 50 ms until its client goes; anything else is cacheable. */
function liveOrCacheable(req: IncomingMessage, res: ServerResponse) {
  if (req.url === '/live') {
    res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'no-store' });
    const timer = setInterval(() => res.write('frame\n'), 50);
    res.once('close', () => clearInterval(timer));
    return;
  }
  const body = `page ${req.url}\n`;
  res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function startWindowEdge(ws: WsOrigin, orders: object[], extra: Record<string, unknown> = {}) {
  return startEdge(
    testConfig({
      clientIp: forwardedClientIp,
      sites: [{ name: 'streams', hosts: [host, 'fine.example'], origin: ws.origin.url }],
      policy: { files: ['policy.yaml'] },
      ...extra,
    }),
    { 'policy.yaml': { orders } },
  );
}

/** Fails the test, rather than letting it prove nothing, when the edge came up too late for the window. */
function expectBefore(from: number, marginMs: number) {
  const left = from - Date.now();
  if (left < marginMs) throw new Error(`the test needs ${marginMs} ms before from, had ${left} ms`);
}

const tunnel = async (edge: RunningEdge, to: string, ip: string) => {
  const opened = await openUpgrade(edge.url, wsRequest(to, [`X-Forwarded-For: ${ip}`]));
  expect(statusOf(opened.first)).toBe(101);
  return opened;
};

const page = (edge: RunningEdge, ip: string) =>
  send(`${edge.url}/page`, { headers: { host, 'x-forwarded-for': ip } });

describe("an order's window that opens with no policy change", () => {
  it('cuts the tunnels and streams already open to its host for the covered country, purges the host, and 451s new requests', async () => {
    const ws = await startWsOrigin(liveOrCacheable);
    const edge = await startWindowEdge(ws, []);
    const from = Date.now() + 2_000;
    const untilMs = from + 1_500;
    const put = await callAdmin<ChangeAnswer>(edge, 'PUT', '/orders/fr-window', {
      body: windowOrder(from, untilMs),
    });
    expect(put.status).toBe(200);
    expectBefore(from, 1_000);

    // Before `from`: the host is served to France, and an allowed client fills the cache.
    expect(await statusThroughEdge(edge.url, host, FR)).toBe(200);
    expect((await page(edge, GB)).status).toBe(200);
    expect(String((await page(edge, GB)).headers['cache-status'])).toContain('hit');
    const french = await tunnel(edge, host, FR);
    const british = await tunnel(edge, host, GB);
    const elsewhere = await tunnel(edge, 'fine.example', FR);
    expect(await echoOf(french.socket, 'before')).toBe('before');
    const stream = sendRaw(
      edge.url,
      `GET /live HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-For: ${FR}\r\n\r\n`,
      from - Date.now() + 3_000,
    );
    await until(() => ws.origin.requests.some((req) => req.url === '/live'), 'the origin streams', 2_000);
    expectBefore(from, 300);

    // Not before `from`, and soon after it.
    expect(await closedWithin(french.socket, from - Date.now() - 100)).toBe(false);
    expect(await closedWithin(french.socket, 1_000)).toBe(true);
    const streamed = await stream;
    expect(Date.now() - from).toBeLessThan(1_000);
    expect(statusOf(streamed)).toBe(200);
    expect(streamed).toContain('frame');
    expect(streamed.endsWith('0\r\n\r\n')).toBe(false);
    expect(await statusThroughEdge(edge.url, host, FR)).toBe(451);
    // Not covered by the order, or another host: untouched.
    expect(await echoOf(british.socket, 'after')).toBe('after');
    expect(await echoOf(elsewhere.socket, 'after')).toBe('after');

    // Evidence: which order cut what, and why, with the policy of the put (no change since).
    await until(
      () => edge.logs().filter((line) => line.msg === cutMessage).length === 2,
      'both cuts are logged',
    );
    const cuts = edge.logs().filter((line) => line.msg === cutMessage);
    expect(cuts.map((line) => line.kind).sort()).toEqual(['response', 'websocket']);
    for (const line of cuts) {
      expect(line).toMatchObject({
        host,
        country: 'FR',
        order_id: 'fr-window',
        policy_version: put.json.version,
        reason: 'window-opened',
      });
    }
    expect(edge.logs().find((line) => line.msg === boundaryMessage)).toMatchObject({
      boundary: new Date(from).toISOString(),
      policy_version: put.json.version,
    });
    const metrics = await send(`${edge.adminUrl}/metrics`);
    for (const kind of ['websocket', 'response']) {
      expect(metrics.body).toContain(
        `edge451_cut_by_block_total{kind="${kind}",order_id="fr-window",country="FR"} 1`,
      );
    }

    // The host's cache entries went when the block started (at `from`, not at the put), as they go when
    // a change starts one. Two entries: the French client's `/` before `from`, and the British `/page`.
    const purged = await edge.waitForLog((line) => line.msg === 'purged newly blocked hosts');
    expect(purged).toMatchObject({ patterns: [host], purged: 2, reason: 'window-opened' });
    expect(edge.logs().filter((line) => line.msg === 'purged newly blocked hosts')).toHaveLength(1);
    const refilled = await page(edge, GB);
    expect(refilled.status).toBe(200);
    expect(String(refilled.headers['cache-status'])).toContain('fwd=uri-miss');

    // `until` lifts the block for new requests; it cuts nothing.
    await until(() => Date.now() >= untilMs, 'the window closes', 3_000);
    expect(await statusThroughEdge(edge.url, host, FR)).toBe(200);
    await edge.waitForLog(
      (line) => line.msg === boundaryMessage && line.boundary === new Date(untilMs).toISOString(),
    );
    expect(await echoOf(british.socket, 'later')).toBe('later');
    expect(edge.logs().filter((line) => line.msg === cutMessage)).toHaveLength(2);
  });
});

describe("an order's window that opens with no policy change, workers: 2", () => {
  it('each worker cuts its own tunnels at `from`, on its own timer armed from its start snapshot', async () => {
    const ws = await startWsOrigin();
    // Room for a cluster to start on a busy machine: the policy is read before the edge is ready.
    const from = Date.now() + 6_000;
    const edge = await startWindowEdge(ws, [windowOrder(from)], { workers: 2 });
    expectBefore(from, 1_500);
    // New connections are spread over the workers: open tunnels until both hold some.
    const tunnels: Opened[] = [];
    const switchedOn = () =>
      new Set(edge.logs().flatMap((line) => (line.host === host && line.status === 101 ? [line.pid] : [])));
    while (switchedOn().size < 2 && tunnels.length < 20) {
      tunnels.push(await tunnel(edge, host, FR));
      await until(
        () =>
          edge.logs().filter((line) => line.host === host && line.status === 101).length === tunnels.length,
        'the tunnel is logged',
        3_000,
      );
    }
    expect(switchedOn().size).toBe(2);
    expectBefore(from, 300);

    for (const each of tunnels) expect(await closedWithin(each.socket, from - Date.now() + 1_000)).toBe(true);
    expect(Date.now() - from).toBeLessThan(1_000);
    const cutBy = () => edge.logs().filter((line) => line.msg === cutMessage);
    await until(() => cutBy().length === tunnels.length, 'every cut is logged', 3_000);
    expect(new Set(cutBy().map((line) => line.pid)).size).toBe(2);
    for (const line of cutBy())
      expect(line).toMatchObject({ order_id: 'fr-window', reason: 'window-opened' });
  });
});
