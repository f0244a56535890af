import type { ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sampleValue, until } from './support/cluster.js';
import { type RunningEdge, reloadEdge, startEdge, testConfig } from './support/edge.js';
import { send, sendRaw, statusOf } from './support/http.js';
import { startOrigin } from './support/origin.js';

// A site's `connections` are all busy with a stalled origin: what happens to the next request. undici
// queued it without a timer (its headersTimeout starts once a request is written), so it waited as long
// as its client did; the edge now bounds the wait with the site's `timeouts.queueMs`.

const host = 'www.example.com';
const getAndClose = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

/**
 * An origin that holds every request for `/stall…` until `release()` and answers the rest at once, and
 * counts the TCP connections it was opened (a keep-alive connection the edge lost shows as one more).
 */
async function startStallingOrigin() {
  const held: ServerResponse[] = [];
  const origin = await startOrigin((req, res) => {
    if (req.url?.startsWith('/stall')) return void held.push(res);
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end(`answered ${req.url}`);
  });
  let connections = 0;
  origin.server.on('connection', () => {
    connections += 1;
  });
  const release = () => {
    for (const res of held.splice(0)) {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('released');
    }
  };
  const paths = () => origin.requests.map((request) => request.url);
  return { origin, release, paths, connections: () => connections };
}

function edgeFor(origin: string, site: Record<string, unknown>): Promise<RunningEdge> {
  return startEdge(testConfig({ sites: [{ name: 'site', hosts: [host], origin, ...site }] }));
}

async function originErrors(edge: RunningEdge, code: string): Promise<number | undefined> {
  const metrics = (await send(`${edge.adminUrl}/metrics`)).body;
  return sampleValue(metrics, `edge451_origin_errors_total{code="${code}"}`);
}

describe('a request waiting for a free origin connection', () => {
  it('past queueMs behind a stalled request on a site with connections: 1, it is answered 503, logged and counted as EDGE_ORIGIN_QUEUE_TIMEOUT, and never sent to the origin', async () => {
    const { origin, release, paths, connections } = await startStallingOrigin();
    const edge = await edgeFor(origin.url, { connections: 1, timeouts: { queueMs: 300 } });
    const stalledPath = send(`${edge.url}/stall`, { headers: { host } });
    await until(() => paths().includes('/stall'), 'the origin holds /stall');

    // Bounded: without a queue bound nothing comes back, and the read gives up after 5 s.
    const raw = await sendRaw(edge.url, getAndClose('/queued'), 5_000);
    expect(statusOf(raw)).toBe(503);
    expect(raw).toContain('\r\ncache-control: no-store\r\n');
    const line = await edge.waitForLog((entry) => entry.path === '/queued');
    expect({
      level: line.level,
      outcome: line.outcome,
      status: line.status,
      code: line.error_code,
    }).toEqual({ level: 40, outcome: 'error', status: 503, code: 'EDGE_ORIGIN_QUEUE_TIMEOUT' });
    expect(await originErrors(edge, 'EDGE_ORIGIN_QUEUE_TIMEOUT')).toBe(1);

    release();
    expect((await stalledPath).status).toBe(200);
    // The queued request left the queue: the freed connection goes to the next request, not to it.
    expect((await send(`${edge.url}/after`, { headers: { host } })).body).toBe('answered /after');
    expect(paths()).toEqual(['/stall', '/after']);
    expect(connections()).toBe(1);
  });

  it('with connections: 2, a POST queued behind two stalled requests is answered 503 too, and its body never reaches the origin', async () => {
    const { origin, release, paths } = await startStallingOrigin();
    const edge = await edgeFor(origin.url, { connections: 2, timeouts: { queueMs: 300 } });
    const stalled = [
      send(`${edge.url}/stall-1`, { headers: { host } }),
      send(`${edge.url}/stall-2`, { headers: { host } }),
    ];
    await until(() => paths().length === 2, 'the origin holds both connections');

    const raw = await sendRaw(
      edge.url,
      `POST /form HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
      5_000,
    );
    expect(statusOf(raw)).toBe(503);
    expect(await originErrors(edge, 'EDGE_ORIGIN_QUEUE_TIMEOUT')).toBe(1);
    release();
    expect((await Promise.all(stalled)).map((answer) => answer.status)).toEqual([200, 200]);
    expect((await send(`${edge.url}/after`, { headers: { host } })).status).toBe(200);
    expect(paths().sort()).toEqual(['/after', '/stall-1', '/stall-2']);
  });

  it('whose client leaves is dropped from the queue at once: recorded as aborted, never sent, and the origin connection is kept for the next one', async () => {
    const { origin, release, paths, connections } = await startStallingOrigin();
    const edge = await edgeFor(origin.url, { connections: 1, timeouts: { queueMs: 10_000 } });
    const stalled = send(`${edge.url}/stall`, { headers: { host } });
    await until(() => paths().includes('/stall'), 'the origin holds /stall');

    const { hostname, port } = new URL(edge.url);
    const leaving = connect(Number(port), hostname);
    leaving.on('error', () => undefined);
    leaving.write(`GET /gone HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    // Give the edge time to queue it (were it not queued yet, it would be dropped all the same).
    await new Promise((resolve) => setTimeout(resolve, 200));
    leaving.destroy();
    // Recorded while /stall still holds the only connection.
    const line = await edge.waitForLog((entry) => entry.path === '/gone', 5_000);
    expect([line.outcome, line.error_code]).toEqual(['aborted', 'EDGE_CLIENT_ABORTED']);

    const next = send(`${edge.url}/next`, { headers: { host } });
    release();
    expect((await stalled).status).toBe(200);
    expect((await next).body).toBe('answered /next');
    expect(paths()).toEqual(['/stall', '/next']);
    // Left in undici's queue, it was aborted when the connection came free (its signal only marks it),
    // and undici's abort destroys the connection it was given: /next came on a second one.
    expect(connections()).toBe(1);
    expect(await originErrors(edge, 'EDGE_ORIGIN_QUEUE_TIMEOUT')).toBeUndefined();
  });
});

describe('origin connections across a reload', () => {
  it('a SIGHUP that leaves a site as it was keeps its pool: its keep-alive connection serves on, and a request still waits behind the same connections', async () => {
    const { origin, release, paths, connections } = await startStallingOrigin();
    const edge = await edgeFor(origin.url, { connections: 1, timeouts: { queueMs: 500 } });
    for (let round = 0; round < 3; round += 1) {
      expect((await send(`${edge.url}/before-${round}`, { headers: { host } })).status).toBe(200);
      await reloadEdge(edge);
    }
    expect((await send(`${edge.url}/after`, { headers: { host } })).status).toBe(200);
    // One keep-alive connection for every request: a new pool per reload opened one more each time.
    expect(connections()).toBe(1);

    const stalled = send(`${edge.url}/stall`, { headers: { host } });
    await until(() => paths().includes('/stall'), 'the origin holds /stall');
    await reloadEdge(edge);
    // The site's one connection is still busy: the request waits for it (and times out), rather than
    // going out on a connection of a second pool.
    expect(statusOf(await sendRaw(edge.url, getAndClose('/queued'), 5_000))).toBe(503);
    expect(paths()).not.toContain('/queued');
    expect(connections()).toBe(1);
    release();
    expect((await stalled).status).toBe(200);
  });
});
