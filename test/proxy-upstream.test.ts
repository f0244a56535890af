import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startEdge, testConfig } from './support/edge.js';
import { send, sendRaw, statusOf } from './support/http.js';
import { closedPort, startOrigin } from './support/origin.js';

const FR = '2a02:cfc0::1';

function siteConfig(origin: string, site: Record<string, unknown> = {}) {
  return testConfig({
    clientIp: { source: 'x-forwarded-for', trustedProxies: ['127.0.0.1/32'] },
    sites: [{ name: 'site', hosts: ['www.example.com', 'blocked.example'], origin, ...site }],
    policy: { files: ['policy.yaml'] },
  });
}
const files = {
  'policy.yaml': {
    orders: [
      { id: 'o1', authority: 'Court', reference: 'R1', countries: ['FR'], hosts: ['blocked.example'] },
    ],
  },
};

describe('headers on the way to the origin', () => {
  it('strips hop-by-hop headers, including those named in Connection, and adds Via and X-Forwarded-*', async () => {
    const origin = await startOrigin();
    const edge = await startEdge(siteConfig(origin.url), files);
    const raw = await sendRaw(
      edge.url,
      'GET /a?b=1 HTTP/1.1\r\nHost: www.example.com\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\n' +
        'Keep-Alive: timeout=5\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nTE: trailers\r\nX-End-To-End: kept\r\n\r\n',
    );
    expect(statusOf(raw)).toBe(200);
    const seen = origin.requests[0]?.headers ?? {};
    expect(origin.requests[0]?.url).toBe('/a?b=1');
    expect(seen['x-secret-hop']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['x-end-to-end']).toBe('kept');
    expect(seen.via).toBe('1.1 edge451');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('www.example.com');

    // One name alone in Connection (its common form, no comma) is dropped all the same.
    await sendRaw(
      edge.url,
      'GET /b HTTP/1.1\r\nHost: www.example.com\r\nConnection: X-Secret-Hop\r\nX-Secret-Hop: 1\r\n\r\n',
      1_000,
    );
    expect(origin.requests[1]?.url).toBe('/b');
    expect(origin.requests[1]?.headers['x-secret-hop']).toBeUndefined();
  });

  it('sends the origin host unless the site preserves the client host', async () => {
    const origin = await startOrigin();
    const edge = await startEdge(siteConfig(origin.url), files);
    await send(`${edge.url}/`, { headers: { host: 'WWW.example.com.' } });
    expect(origin.requests[0]?.headers.host).toBe(`127.0.0.1:${origin.port}`);

    const preserving = await startEdge(siteConfig(origin.url, { preserveHost: true }), files);
    await send(`${preserving.url}/`, { headers: { host: 'WWW.example.com.' } });
    expect(origin.requests[1]?.headers.host).toBe('www.example.com');
  });

  it('keeps and extends the forwarding chain of a trusted proxy', async () => {
    const origin = await startOrigin();
    const edge = await startEdge(siteConfig(origin.url), files);
    await send(`${edge.url}/`, { headers: { host: 'www.example.com', 'x-forwarded-for': '81.2.69.160' } });
    expect(origin.requests[0]?.headers['x-forwarded-for']).toBe('81.2.69.160, 127.0.0.1');
  });

  it('behind a PROXY-protocol load balancer, decides on and forwards the address the balancer saw', async () => {
    const origin = await startOrigin();
    const edge = await startEdge(
      { ...siteConfig(origin.url), clientIp: { source: 'proxy-protocol', trustedProxies: ['127.0.0.1/32'] } },
      files,
    );
    const viaBalancer = (client: string, host: string) =>
      sendRaw(
        edge.url,
        `PROXY ${client.includes(':') ? 'TCP6' : 'TCP4'} ${client} ${client.includes(':') ? '::1' : '127.0.0.1'} 5555 80\r\n` +
          `GET /via-balancer HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
    expect(statusOf(await viaBalancer(FR, 'blocked.example'))).toBe(451);
    expect(statusOf(await viaBalancer('81.2.69.160', 'blocked.example'))).toBe(200);
    expect(origin.requests.map((seen) => seen.headers['x-forwarded-for'])).toEqual(['81.2.69.160']);
  });

  it('a reloaded trustedProxies list applies to the next PROXY-protocol connection', async () => {
    const origin = await startOrigin();
    const config = {
      ...siteConfig(origin.url),
      clientIp: { source: 'proxy-protocol', trustedProxies: ['10.0.0.0/8'] },
    };
    const edge = await startEdge(config, files);
    const viaBalancer = () =>
      sendRaw(
        edge.url,
        `PROXY TCP6 ${FR} ::1 5555 80\r\nGET / HTTP/1.1\r\nHost: blocked.example\r\nConnection: close\r\n\r\n`,
      );
    // Loopback is no trusted balancer yet: its PROXY header is a forgery, and the connection is closed.
    expect(await viaBalancer()).toBe('');
    await writeFile(
      edge.configFile,
      stringify({ ...config, clientIp: { source: 'proxy-protocol', trustedProxies: ['127.0.0.1/32'] } }),
    );
    edge.process.kill('SIGHUP');
    await edge.waitForLog((line) => line.msg === 'reloaded');
    expect(statusOf(await viaBalancer())).toBe(451);
    expect(origin.requests).toHaveLength(0);
  });

  it('strips hop-by-hop headers from the response and adds Via and the site response headers', async () => {
    const origin = await startOrigin((_req, res) => {
      res.writeHead(200, {
        connection: 'X-Origin-Hop',
        'x-origin-hop': 'secret',
        'x-kept': 'yes',
        'content-length': '2',
      });
      res.end('ok');
    });
    const edge = await startEdge(
      siteConfig(origin.url, {
        headers: { request: {}, response: { 'Strict-Transport-Security': 'max-age=60' } },
      }),
      files,
    );
    const response = await send(`${edge.url}/`, { headers: { host: 'www.example.com' } });
    expect(response.headers['x-origin-hop']).toBeUndefined();
    expect(response.headers['x-kept']).toBe('yes');
    expect(response.headers.via).toBe('1.1 edge451');
    expect(response.headers['strict-transport-security']).toBe('max-age=60');
  });
});

describe('bodies stream both ways', () => {
  it('streams a large response through without buffering it', async () => {
    const size = 256 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-length': String(size), 'cache-control': 'no-store' });
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const edge = await startEdge(siteConfig(origin.url), files);
    const response = await request(`${edge.url}/big`, { headers: { host: 'www.example.com' } });
    let received = 0;
    for await (const part of response.body) received += (part as Buffer).length;
    expect(received).toBe(size);
    const rss = await rssOf(edge.process.pid ?? 0);
    // A buffered body would cost at least its own size; streaming stays far below it.
    expect(rss).toBeLessThan(size);
  });

  it('streams a request body to the origin', async () => {
    const origin = await startOrigin((req, res) => {
      let length = 0;
      req.on('data', (part: Buffer) => {
        length += part.length;
      });
      req.on('end', () => res.end(String(length)));
    });
    const edge = await startEdge(siteConfig(origin.url), files);
    const body = Readable.from(
      (function* () {
        for (let index = 0; index < 64; index += 1) yield Buffer.alloc(64 * 1024, 1);
      })(),
    );
    const response = await request(`${edge.url}/upload`, {
      method: 'POST',
      headers: { host: 'www.example.com' },
      body,
    });
    expect(await response.body.text()).toBe(String(64 * 64 * 1024));
  });
});

describe('failures', () => {
  it('answers 502 when the origin refuses connections, and keeps serving', async () => {
    const port = await closedPort();
    const edge = await startEdge(siteConfig(`http://127.0.0.1:${port}`), files);
    const response = await send(`${edge.url}/`, { headers: { host: 'www.example.com' } });
    expect(response.status).toBe(502);
    const again = await send(`${edge.url}/`, { headers: { host: 'blocked.example', 'x-forwarded-for': FR } });
    expect(again.status).toBe(451);
    await edge.waitForLog((line) => line.error_code === 'EDGE_ORIGIN_UNREACHABLE');
  });

  it('answers 504 when the origin is too slow to send headers', async () => {
    const origin = await startOrigin((_req, res) => {
      setTimeout(() => res.end('late'), 2_000);
    });
    const edge = await startEdge(
      siteConfig(origin.url, { timeouts: { connectMs: 1_000, headersMs: 300, bodyMs: 1_000 } }),
      files,
    );
    const response = await send(`${edge.url}/`, { headers: { host: 'www.example.com' } });
    expect(response.status).toBe(504);
  });

  it('a client that disconnects aborts the upstream request', async () => {
    let upstreamClosed: () => void = () => undefined;
    const closedEarly = new Promise<void>((resolve) => {
      upstreamClosed = resolve;
    });
    const origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      req.socket.once('close', () => upstreamClosed());
    });
    const edge = await startEdge(siteConfig(origin.url), files);
    const { hostname, port } = new URL(edge.url);
    const socket: Socket = connect(Number(port), hostname);
    socket.write('GET /hang HTTP/1.1\r\nHost: www.example.com\r\n\r\n');
    await once(socket, 'data');
    socket.destroy();
    await closedEarly;
  });

  it('a client that disconnects before the origin answers aborts the upstream request and counts as aborted', async () => {
    let upstreamClosed: () => void = () => undefined;
    const closedEarly = new Promise<void>((resolve) => {
      upstreamClosed = resolve;
    });
    let answered = false;
    const origin = await startOrigin((req, res) => {
      if (!answered) {
        answered = true;
        res.writeHead(200, { 'cache-control': 'no-store' }).end('once');
        return;
      }
      req.socket.once('close', () => upstreamClosed()); // never answers again
    });
    const edge = await startEdge(siteConfig(origin.url), files);
    // The first answer makes /solo a URL the cache remembers as uncacheable (its fetches are not coalesced);
    // /fresh is coalesced. A client leaving either one is an abort, not an error.
    expect((await send(`${edge.url}/solo`, { headers: { host: 'www.example.com' } })).status).toBe(200);
    const { hostname, port } = new URL(edge.url);
    for (const path of ['/solo', '/fresh']) {
      const socket: Socket = connect(Number(port), hostname);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: www.example.com\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
    }
    await closedEarly;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.body).toContain('edge451_requests_total{outcome="aborted"} 2');
    expect(metrics.body).not.toContain('edge451_requests_total{outcome="error"}');
  });
});

describe('upgrades', () => {
  async function upgradeThroughEdge(edgeUrl: string, host = 'www.example.com'): Promise<Socket> {
    const { hostname, port } = new URL(edgeUrl);
    const socket = connect(Number(port), hostname);
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const [head] = (await once(socket, 'data')) as [Buffer];
    expect(head.toString()).toMatch(/^HTTP\/1\.1 101/);
    return socket;
  }

  it('proxies a WebSocket upgrade and closes the origin side when the client leaves', async () => {
    const origin = await startOrigin();
    const originClosed = new Promise<void>((resolve) => {
      origin.server.on('upgrade', (_req, socket: Socket) => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        socket.on('data', (data) => socket.write(data));
        socket.on('end', () => socket.end());
        socket.on('close', () => resolve());
      });
    });
    const edge = await startEdge(siteConfig(origin.url), files);
    const socket = await upgradeThroughEdge(edge.url);
    socket.write('ping');
    const [echo] = (await once(socket, 'data')) as [Buffer];
    expect(echo.toString()).toBe('ping');
    socket.destroy();
    await originClosed;
  });

  it('does not keep a half-closed pair open when the origin ignores the client FIN', async () => {
    const origin = await startOrigin();
    const originSockets: Socket[] = [];
    origin.server.on('upgrade', (_req, socket: Socket) => {
      originSockets.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    const edge = await startEdge(siteConfig(origin.url), files);
    const socket = await upgradeThroughEdge(edge.url);
    const started = Date.now();
    socket.end();
    await once(socket, 'close');
    // The edge gives the pair a 2 s grace to finish closing, then destroys both sides.
    expect(Date.now() - started).toBeLessThan(4_000);
    for (const originSocket of originSockets) originSocket.destroy();
  });

  it('a blocked client gets 451 on an upgrade and the origin never sees it', async () => {
    const origin = await startOrigin();
    let upgrades = 0;
    origin.server.on('upgrade', (_req, socket: Socket) => {
      upgrades += 1;
      socket.destroy();
    });
    const edge = await startEdge(siteConfig(origin.url), files);
    const raw = await sendRaw(
      edge.url,
      `GET /ws HTTP/1.1\r\nHost: blocked.example\r\nX-Forwarded-For: ${FR}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
    );
    expect(statusOf(raw)).toBe(451);
    expect(upgrades).toBe(0);
  });

  it('closes the client socket when the origin drops an upgraded connection', async () => {
    const origin = await startOrigin();
    origin.server.on('upgrade', (_req, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      setTimeout(() => socket.destroy(), 50);
    });
    const edge = await startEdge(siteConfig(origin.url), files);
    const socket = await upgradeThroughEdge(edge.url);
    const started = Date.now();
    await once(socket, 'close');
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('answers 502 on an upgrade when the origin is down, and a non-WebSocket upgrade with 501', async () => {
    const port = await closedPort();
    const edge = await startEdge(siteConfig(`http://127.0.0.1:${port}`), files);
    const down = await sendRaw(
      edge.url,
      'GET /ws HTTP/1.1\r\nHost: www.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    expect(statusOf(down)).toBe(502);
    // The same answer as a failed plain request: it describes one request, no cache may replay it.
    expect(down).toMatch(/\r\ncache-control: no-store\r\n/);
    expect(down).toContain('Bad gateway: the origin could not be reached or answered badly.');
    const h2c = await sendRaw(
      edge.url,
      'GET / HTTP/1.1\r\nHost: www.example.com\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
    );
    expect(statusOf(h2c)).toBe(501);
  });
});

async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}
