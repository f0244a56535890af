import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type ChangeAnswer, callAdmin, type ErrorAnswer, notification } from './support/admin.js';
import { clientIps, forwardedClientIp, motogpOrder } from './support/blocking-order.js';
import { until } from './support/cluster.js';
import { countryTestDatabase, type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { send, sendRaw, statusOf } from './support/http.js';
import { startOrigin, type TestOrigin } from './support/origin.js';
import {
  closedWithin,
  echoOf,
  type Opened,
  openUpgrade,
  startWsOrigin,
  wsRequest,
} from './support/websocket.js';

// WebSocket upgrades through the real binary, a WebSocket origin and raw sockets: origins that stall,
// clients that leave before the 101, what the request log says, and blocks that arrive while a tunnel (or,
// by the same mechanism, a long response) is open. (Older upgrade cases: proxy-upstream.test.ts and
// bypass.test.ts; refusals the origin answers instead of its 101: upgrade-refusal.test.ts.)

const { FR, GB } = clientIps;
const siteHosts = ['motogpstream.me', 'fine.example', '*.mirrors.test'];
const cutMessage = 'cut: its host is now blocked for the client';
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

const notify = (edge: RunningEdge, hosts: string[]) =>
  callAdmin<ChangeAnswer & ErrorAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
    body: notification(hosts),
  });

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
    expect(await edge.waitForLog((line) => line.path === '/silent')).toMatchObject({
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
    for (const path of ['/refuse', '/post', '/chat']) await edge.waitForLog((line) => line.path === path);
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

describe('the target of an upgrade', () => {
  it('reaches the origin as accept.ts parsed it, whatever the form: origin-form, without a fragment', async () => {
    const ws = await startWsOrigin();
    const edge = await startUpgradeEdge(ws.origin);
    for (const target of ['/chat#frag', 'http://fine.example/chat?room=1#frag', '/chat?room=2']) {
      const opened = await openUpgrade(
        edge.url,
        wsRequest('fine.example', [`X-Forwarded-For: ${GB}`], target),
      );
      expect(statusOf(opened.first), target).toBe(101);
      opened.socket.destroy();
    }
    expect(ws.upgrades.map((upgrade) => upgrade.url)).toEqual(['/chat', '/chat?room=1', '/chat?room=2']);
  });
});

describe('blocks that arrive while an upgrade is open', () => {
  it('a tunnel to a host that becomes blocked for its client does not keep carrying data after the block is in force', async () => {
    const ws = await startWsOrigin();
    const edge = await startUpgradeEdge(ws.origin);
    const host = 'race.mirrors.test';
    const tunnel = await openUpgrade(edge.url, wsRequest(host, [`X-Forwarded-For: ${FR}`]));
    expect(statusOf(tunnel.first)).toBe(101);
    expect(await echoOf(tunnel.socket, 'lap 1')).toBe('lap 1');
    // The same host from a country the order does not cover, and another host from France.
    const british = await openUpgrade(edge.url, wsRequest(host, [`X-Forwarded-For: ${GB}`]));
    const elsewhere = await openUpgrade(edge.url, wsRequest('fine.example', [`X-Forwarded-For: ${FR}`]));
    expect([statusOf(british.first), statusOf(elsewhere.first)]).toEqual([101, 101]);

    const change = await notify(edge, [host]);
    expect(change.status).toBe(200);
    expect(statusOf((await openUpgrade(edge.url, wsRequest(host, [`X-Forwarded-For: ${FR}`]))).first)).toBe(
      451,
    );
    await sleep(500);
    expect(await echoOf(tunnel.socket, 'lap 2')).toBeUndefined();
    expect(await closedWithin(ws.sockets[0] as Socket, 1_000)).toBe(true);
    expect(await echoOf(british.socket, 'lap 2')).toBe('lap 2');
    expect(await echoOf(elsewhere.socket, 'lap 2')).toBe('lap 2');

    // Evidence: which order cut which request, for whom; and a count.
    await edge.waitForLog((line) => line.msg === cutMessage);
    const cut = edge.logs().filter((line) => line.msg === cutMessage);
    expect(cut).toHaveLength(1);
    expect(cut[0]).toMatchObject({
      kind: 'websocket',
      host,
      country: 'FR',
      order_id: 'fr-2025-motogp',
      policy_version: change.json.version,
    });
    const opened = edge
      .logs()
      .find((line) => line.status === 101 && line.host === host && line.country === 'FR');
    expect(cut[0]?.request_id).toBe(opened?.request_id);
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.body).toContain(
      'edge451_cut_by_block_total{kind="websocket",order_id="fr-2025-motogp",country="FR"} 1',
    );
  });

  it('an upgrade still waiting for its 101 when its host becomes blocked is cut, and recorded as cut', async () => {
    const ws = await startWsOrigin();
    const edge = await startUpgradeEdge(ws.origin);
    const host = 'pending.mirrors.test';
    const { socket } = await openUpgrade(
      edge.url,
      wsRequest(host, [`X-Forwarded-For: ${FR}`], '/silent'),
      300,
    );
    await until(() => ws.sockets.length === 1, 'the origin saw the upgrade', 3_000);
    expect((await notify(edge, [host])).status).toBe(200);
    expect(await closedWithin(socket, 1_000)).toBe(true);
    expect(await closedWithin(ws.sockets[0] as Socket, 1_000)).toBe(true);
    const line = await edge.waitForLog((each) => each.path === '/silent' && each.msg === 'request', 3_000);
    expect(line).toMatchObject({ outcome: 'cut', order_id: 'fr-2025-motogp', country: 'FR' });
    expect(line.error_code).toBeUndefined();
  });
});

describe('blocks that arrive while an upgrade is open, workers: 2', () => {
  it("each worker cuts its own tunnels when the primary's change reaches it", async () => {
    const ws = await startWsOrigin();
    const edge = await startUpgradeEdge(ws.origin, { extra: { workers: 2 } });
    const host = 'cluster.mirrors.test';
    // New connections are spread over the workers: open tunnels until both hold some.
    const tunnels: Opened[] = [];
    const switchedOn = () =>
      new Set(edge.logs().flatMap((line) => (line.host === host && line.status === 101 ? [line.pid] : [])));
    while (switchedOn().size < 2 && tunnels.length < 20) {
      const tunnel = await openUpgrade(edge.url, wsRequest(host, [`X-Forwarded-For: ${FR}`]));
      expect(statusOf(tunnel.first)).toBe(101);
      tunnels.push(tunnel);
      await until(
        () =>
          edge.logs().filter((line) => line.host === host && line.status === 101).length === tunnels.length,
        'the tunnel is logged',
        3_000,
      );
    }
    expect((await notify(edge, [host])).status).toBe(200);
    for (const tunnel of tunnels) expect(await closedWithin(tunnel.socket, 1_000)).toBe(true);
    // Each worker logs its own cuts; the lines come through the pipe after the sockets close.
    const cutBy = () => edge.logs().filter((line) => line.msg === cutMessage);
    await until(() => cutBy().length === tunnels.length, 'every cut is logged', 3_000);
    expect(new Set(cutBy().map((line) => line.pid)).size).toBe(2);
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.body).toContain(
      `edge451_cut_by_block_total{kind="websocket",order_id="fr-2025-motogp",country="FR"} ${tunnels.length}`,
    );
  });
});

describe('blocks that arrive while a response is still streaming (the same mechanism)', () => {
  /** An origin streaming a frame every 50 ms until its client goes (a live progressive stream). */
  async function startLiveOrigin() {
    const closed: string[] = [];
    const origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'no-store' });
      const timer = setInterval(() => res.write(`frame for ${req.headers['x-forwarded-for']}\n`), 50);
      res.once('close', () => {
        clearInterval(timer);
        closed.push(String(req.headers['x-forwarded-for']));
      });
    });
    return { origin, closed };
  }

  const watch = (url: string, host: string, ip: string) =>
    sendRaw(url, `GET /live HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-For: ${ip}\r\n\r\n`, 4_000);

  it('a response to a host that becomes blocked for its client is cut mid-stream; the origin request goes too', async () => {
    const { origin, closed } = await startLiveOrigin();
    const edge = await startUpgradeEdge(origin);
    const host = 'live.mirrors.test';
    const started = Date.now();
    const french = watch(edge.url, host, FR);
    const british = watch(edge.url, host, GB);
    await until(() => origin.requests.length === 2, 'the origin streams to both', 3_000);
    await sleep(200);
    const change = await notify(edge, [host]);
    expect(change.status).toBe(200);

    const cutShort = await french;
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(statusOf(cutShort)).toBe(200);
    // Truncated: no last chunk, so no client can take it for the whole stream.
    expect(cutShort).toContain('frame for');
    expect(cutShort.endsWith('0\r\n\r\n')).toBe(false);
    await until(() => closed.length === 1, 'the origin request was closed', 2_000);
    // The British client is not covered by the order: its stream goes on until it hangs up.
    const uncut = await british;
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
    expect(uncut.split('frame for').length).toBeGreaterThan(40);

    await edge.waitForLog((line) => line.msg === cutMessage);
    const cut = edge.logs().filter((line) => line.msg === cutMessage);
    expect(cut).toEqual([
      expect.objectContaining({ kind: 'response', host, country: 'FR', order_id: 'fr-2025-motogp' }),
    ]);
    const recorded = await edge.waitForLog(
      (line) => line.request_id === cut[0]?.request_id && line.msg === 'request',
    );
    expect(recorded).toMatchObject({ outcome: 'cut', status: 200, order_id: 'fr-2025-motogp' });
    expect(recorded.error_code).toBeUndefined();
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.body).toContain(
      'edge451_cut_by_block_total{kind="response",order_id="fr-2025-motogp",country="FR"} 1',
    );
    expect(metrics.body).not.toContain('edge451_origin_errors_total{');
  });

  it('a request still waiting for its origin when its host becomes blocked is closed, unanswered, and recorded as cut', async () => {
    const origin = await startOrigin((_req, res) => {
      setTimeout(() => res.end('too late\n'), 2_000);
    });
    const edge = await startUpgradeEdge(origin);
    const host = 'slow.mirrors.test';
    const started = Date.now();
    const waiting = sendRaw(
      edge.url,
      `GET /slow HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-For: ${FR}\r\n\r\n`,
    );
    await until(() => origin.requests.length === 1, 'the origin has the request', 3_000);
    expect((await notify(edge, [host])).status).toBe(200);
    expect(await waiting).toBe('');
    expect(Date.now() - started).toBeLessThan(2_000);
    const recorded = await edge.waitForLog((line) => line.path === '/slow' && line.msg === 'request');
    expect(recorded).toMatchObject({ outcome: 'cut', order_id: 'fr-2025-motogp', country: 'FR' });
  });
});
