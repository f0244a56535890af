import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { send, sendRaw } from './support/http.js';
import { startOrigin, type TestOrigin } from './support/origin.js';
import { exchange, parseResponse } from './support/raw-response.js';
import { closedWithin, wsRequest } from './support/websocket.js';

// An origin that answers an upgrade with anything but 101 has refused it, and the client must get that
// answer as a well-formed HTTP/1.1 response built as every proxied response is (hop-by-hop fields gone,
// Via and the site's headers added, a Location on the origin's address rewritten), then have its
// connection closed. The origins answer raw bytes, so each test controls the framing and the fields
// exactly; the client is a raw socket whose bytes are parsed by llhttp and checked by hand
// (support/raw-response.ts). The edge is the real binary.

type RefusingOrigin = { origin: TestOrigin; sockets: Socket[] };

/** A real origin whose every upgrade is answered by `answer` (raw bytes on the socket). */
async function startRefusingOrigin(
  answer: (socket: Socket, req: IncomingMessage, origin: TestOrigin) => void,
): Promise<RefusingOrigin> {
  const origin = await startOrigin();
  const sockets: Socket[] = [];
  // Upgrade sockets leave node:http's bookkeeping: the origin could not close with them open.
  onTestFinished(() => {
    for (const socket of sockets) socket.destroy();
  });
  origin.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    sockets.push(socket);
    socket.on('error', () => socket.destroy());
    // node:http servers allow half-open sockets: close our side when the edge closes its own.
    socket.on('end', () => socket.end());
    answer(socket, req, origin);
  });
  return { origin, sockets };
}

/** The edge in front of `origin` for chat.example, with a response header of the site's own. */
function startChatEdge(origin: TestOrigin, site: Record<string, unknown> = {}): Promise<RunningEdge> {
  return startEdge(
    testConfig({
      sites: [
        {
          name: 'chat',
          hosts: ['chat.example'],
          origin: origin.url,
          headers: { request: {}, response: { 'X-Site': 'chat' } },
          ...site,
        },
      ],
    }),
  );
}

const upgradeRequest = (path = '/chat') => wsRequest('chat.example', [], path);
const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const requestLine = (edge: RunningEdge, path: string) =>
  edge.waitForLog((line) => line.path === path && line.status !== undefined);

describe('an origin refusing an upgrade: the client gets a well-formed response, then the connection closes', () => {
  it('a chunked refusal arrives framed and whole', async () => {
    const { origin } = await startRefusingOrigin(async (socket) => {
      socket.write(
        head([
          'HTTP/1.1 403 Forbidden',
          'Content-Type: text/plain',
          'Transfer-Encoding: chunked',
          'Connection: close',
        ]),
      );
      // In pieces, so that the edge relays a body that arrives over time.
      for (const chunk of ['5\r\nhello\r\n', '7\r\n, world\r\n', '1\r\n\n\r\n']) {
        socket.write(chunk);
        await sleep(20);
      }
      socket.end('0\r\n\r\n');
    });
    const edge = await startChatEdge(origin);
    const { bytes, closed } = await exchange(edge.url, upgradeRequest());
    const response = await parseResponse(bytes);
    expect(response.status).toBe(403);
    expect(response.body.toString()).toBe('hello, world\n');
    expect(['chunked', 'content-length']).toContain(response.framing);
    expect(response.headers).toMatchObject({
      'content-type': 'text/plain',
      connection: 'close',
      via: '1.1 edge451',
      'x-site': 'chat',
    });
    expect(closed).toBe(true);
    expect(await requestLine(edge, '/chat')).toMatchObject({ status: 403, outcome: 'proxied' });
  });

  it('a refusal with a Content-Length keeps it, and carries what the edge adds to every response', async () => {
    const body = '{"error":"token expired"}';
    const { origin } = await startRefusingOrigin((socket) => {
      socket.end(
        head([
          'HTTP/1.1 401 Unauthorized',
          'WWW-Authenticate: Bearer realm="chat", error="invalid_token"',
          'Content-Type: application/json',
          `Content-Length: ${body.length}`,
        ]) + body,
      );
    });
    const edge = await startChatEdge(origin);
    const { bytes, closed } = await exchange(edge.url, upgradeRequest());
    const response = await parseResponse(bytes);
    expect(response).toMatchObject({ status: 401, framing: 'content-length' });
    expect(response.body.toString()).toBe(body);
    expect(response.headers).toMatchObject({
      'content-length': String(body.length),
      'www-authenticate': 'Bearer realm="chat", error="invalid_token"',
      connection: 'close',
      via: '1.1 edge451',
      'x-site': 'chat',
    });
    expect(response.headers['transfer-encoding']).toBeUndefined();
    expect(closed).toBe(true);
    expect(await requestLine(edge, '/chat')).toMatchObject({ status: 401, outcome: 'proxied' });
  });

  it('a refusal larger than the sockets can buffer arrives whole', async () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 'refused. ');
    const { origin } = await startRefusingOrigin((socket) => {
      socket.write(head(['HTTP/1.1 403 Forbidden', `Content-Length: ${body.length}`]));
      socket.end(body);
    });
    const edge = await startChatEdge(origin);
    const { bytes, closed } = await exchange(edge.url, upgradeRequest(), 10_000);
    const response = await parseResponse(bytes);
    expect(response.status).toBe(403);
    expect(response.body.equals(body)).toBe(true);
    expect(closed).toBe(true);
  });

  it("a redirect to the origin's own address is pointed at the client's", async () => {
    const { origin } = await startRefusingOrigin((socket, _req, self) => {
      socket.end(
        head([
          'HTTP/1.1 302 Found',
          `Location: http://127.0.0.1:${self.port}/login?next=%2Fchat`,
          `Content-Location: http://127.0.0.1:${self.port}/chat`,
          'Content-Length: 0',
        ]),
      );
    });
    const edge = await startChatEdge(origin);
    const { bytes, closed } = await exchange(edge.url, upgradeRequest());
    const response = await parseResponse(bytes);
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('http://chat.example/login?next=%2Fchat');
    expect(response.headers['content-location']).toBe('http://chat.example/chat');
    expect(closed).toBe(true);
  });

  it('the hop-by-hop fields of a refusal, and those its Connection names, do not reach the client', async () => {
    const body = 'denied';
    const { origin } = await startRefusingOrigin((socket) => {
      socket.end(
        head([
          'HTTP/1.1 403 Forbidden',
          'Connection: keep-alive, X-Origin-Hop',
          'Keep-Alive: timeout=5, max=100',
          'X-Origin-Hop: internal',
          'Proxy-Authenticate: Basic realm="origin"',
          'Trailer: X-Checksum',
          'Upgrade: websocket',
          'X-End-To-End: kept',
          `Content-Length: ${body.length}`,
        ]) + body,
      );
    });
    const edge = await startChatEdge(origin);
    const { bytes, closed } = await exchange(edge.url, upgradeRequest());
    const response = await parseResponse(bytes);
    expect(response.status).toBe(403);
    expect(response.body.toString()).toBe(body);
    const names = Object.keys(response.headers);
    for (const hop of ['keep-alive', 'x-origin-hop', 'proxy-authenticate', 'trailer', 'upgrade']) {
      expect(names).not.toContain(hop);
    }
    // The edge's own: the connection closes after this answer.
    expect(response.headers.connection).toBe('close');
    expect(response.headers['x-end-to-end']).toBe('kept');
    expect(closed).toBe(true);
  });

  // RFC 9110 §15.5.22: a 426 MUST name the protocols the server accepts in Upgrade. The hop-by-hop rule
  // drops Upgrade from every other response (above); a WebSocket origin names its versions in
  // Sec-WebSocket-Version (RFC 6455 §4.4), which is end to end anyway.
  it('a 426 keeps its Upgrade field, with the upgrade connection option that goes with it, and the connection still closes', async () => {
    const body = 'Upgrade Required';
    const { origin } = await startRefusingOrigin((socket) => {
      socket.end(
        head([
          'HTTP/1.1 426 Upgrade Required',
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Sec-WebSocket-Version: 13, 8',
          'Content-Type: text/plain',
          `Content-Length: ${body.length}`,
        ]) + body,
      );
    });
    const edge = await startChatEdge(origin);
    const { bytes, closed } = await exchange(edge.url, upgradeRequest());
    const response = await parseResponse(bytes);
    expect(response).toMatchObject({ status: 426, framing: 'content-length' });
    expect(response.body.toString()).toBe(body);
    expect(response.headers).toMatchObject({
      upgrade: 'websocket',
      'sec-websocket-version': '13, 8',
      via: '1.1 edge451',
      'x-site': 'chat',
    });
    const connectionOptions = (response.headers.connection ?? '').split(',').map((option) => option.trim());
    expect(connectionOptions.sort()).toEqual(['close', 'upgrade']);
    expect(closed).toBe(true);
    expect(await requestLine(edge, '/chat')).toMatchObject({ status: 426, outcome: 'proxied' });
  });

  it('a 204 and a 304 go without a body and without framing for one', async () => {
    const { origin } = await startRefusingOrigin((socket, req) => {
      socket.end(
        req.url === '/no-content'
          ? head(['HTTP/1.1 204 No Content', 'X-Reason: nothing here', 'Connection: close'])
          : head(['HTTP/1.1 304 Not Modified', 'ETag: "v1"', 'Transfer-Encoding: chunked']),
      );
    });
    const edge = await startChatEdge(origin);
    for (const [path, status] of [
      ['/no-content', 204],
      ['/not-modified', 304],
    ] as const) {
      const { bytes, closed } = await exchange(edge.url, upgradeRequest(path));
      const response = await parseResponse(bytes);
      expect({ path, status: response.status, framing: response.framing }).toEqual({
        path,
        status,
        framing: 'none',
      });
      expect(response.headers['transfer-encoding']).toBeUndefined();
      expect(response.headers['content-length']).toBeUndefined();
      expect(response.headers.via).toBe('1.1 edge451');
      expect(closed).toBe(true);
      expect(await requestLine(edge, path)).toMatchObject({ status, outcome: 'proxied' });
    }
  });
});

describe('refusals that do not complete', () => {
  it.each([
    ['closes', (socket: Socket) => socket.end()],
    ['resets', (socket: Socket) => socket.resetAndDestroy()],
  ])(
    'an origin that %s its connection mid-refusal: the client sees the answer cut, never complete; recorded as the origin’s failure',
    async (_how, breakOff) => {
      const { origin } = await startRefusingOrigin((socket) => {
        socket.write(head(['HTTP/1.1 403 Forbidden', 'Transfer-Encoding: chunked']));
        socket.write('5\r\nhello\r\n');
        setTimeout(() => breakOff(socket), 100);
      });
      const edge = await startChatEdge(origin);
      const { bytes, closed } = await exchange(edge.url, upgradeRequest());
      expect(closed).toBe(true);
      const text = bytes.toString('latin1');
      expect(text).toMatch(/^HTTP\/1\.1 403 /);
      expect(text).toContain('hello');
      await expect(parseResponse(bytes)).rejects.toThrow();
      expect(await requestLine(edge, '/chat')).toMatchObject({
        status: 403,
        outcome: 'error',
        error_code: 'EDGE_ORIGIN_PROTOCOL',
      });
      const metrics = await send(`${edge.adminUrl}/metrics`);
      expect(metrics.body).toContain('edge451_origin_errors_total{code="EDGE_ORIGIN_PROTOCOL"} 1');
    },
  );

  it("an origin that stalls mid-refusal is cut off once the site's bodyMs has passed", async () => {
    const { origin, sockets } = await startRefusingOrigin((socket) => {
      socket.write(head(['HTTP/1.1 403 Forbidden', 'Content-Length: 100']));
      socket.write('the first of 100 bytes');
    });
    const edge = await startChatEdge(origin, {
      timeouts: { connectMs: 2_000, headersMs: 2_000, bodyMs: 300 },
    });
    const started = Date.now();
    const { bytes, closed } = await exchange(edge.url, upgradeRequest(), 3_000);
    expect(closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    const text = bytes.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text.endsWith('\r\n\r\nthe first of 100 bytes')).toBe(true);
    await expect(parseResponse(bytes)).rejects.toThrow();
    expect(await closedWithin(sockets[0] as Socket, 1_000)).toBe(true);
    expect(await requestLine(edge, '/chat')).toMatchObject({
      status: 403,
      outcome: 'error',
      error_code: 'EDGE_ORIGIN_TIMEOUT',
    });
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.body).toContain('edge451_origin_errors_total{code="EDGE_ORIGIN_TIMEOUT"} 1');
  });

  it('a client that reads slowly is not taken for an origin that stalls', async () => {
    // More than loopback's socket buffers hold, so that the origin's side waits for the client's.
    const body = Buffer.alloc(32 * 1024 * 1024, 'refused. ');
    const { origin } = await startRefusingOrigin((socket) => {
      socket.write(head(['HTTP/1.1 403 Forbidden', `Content-Length: ${body.length}`]));
      socket.end(body);
    });
    const edge = await startChatEdge(origin, {
      timeouts: { connectMs: 2_000, headersMs: 2_000, bodyMs: 300 },
    });
    const { hostname, port } = new URL(edge.url);
    const client = connect(Number(port), hostname);
    onTestFinished(() => void client.destroy());
    client.pause();
    client.write(upgradeRequest());
    await sleep(1_000);
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.resume();
    expect(await closedWithin(client, 10_000)).toBe(true);
    const response = await parseResponse(Buffer.concat(chunks));
    expect(response.status).toBe(403);
    expect(response.body.equals(body)).toBe(true);
    expect(await requestLine(edge, '/chat')).toMatchObject({ status: 403, outcome: 'proxied' });
  });

  it('a client that leaves while a refusal is relayed takes the origin connection down', async () => {
    const { origin, sockets } = await startRefusingOrigin((socket) => {
      socket.write(head(['HTTP/1.1 403 Forbidden', 'Content-Length: 100']));
      socket.write('the first of 100 bytes');
    });
    const edge = await startChatEdge(origin);
    const { closed } = await exchange(edge.url, upgradeRequest(), 500);
    expect(closed).toBe(false);
    // `exchange` has destroyed the client socket.
    expect(await closedWithin(sockets[0] as Socket, 2_000)).toBe(true);
    expect(await requestLine(edge, '/chat')).toMatchObject({
      status: 403,
      outcome: 'aborted',
      error_code: 'EDGE_CLIENT_ABORTED',
    });
  });
});

describe('a 426 on an ordinary request', () => {
  // The refusal above kept Upgrade, but an origin's 426 to a request that asked for no upgrade (a site that
  // wants TLS or h2c first) went through the normal path, whose hop-by-hop rule dropped the field that
  // RFC 9110 §15.5.22 makes a 426 carry. It keeps it now, with nothing else the origin's Connection named.
  it('keeps its Upgrade and the upgrade connection option, drops the rest of the hop-by-hop fields, and keeps the connection', async () => {
    const body = 'Upgrade to TLS first';
    const origin = await startOrigin((_req, res) => {
      res.writeHead(426, {
        upgrade: 'TLS/1.2, HTTP/1.1',
        connection: 'Upgrade, X-Hop',
        'x-hop': 'for the edge only',
        'keep-alive': 'timeout=99',
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
    const edge = await startChatEdge(origin);
    for (const path of ['/plain', '/again']) {
      const response = await send(`${edge.url}${path}`, { headers: { host: 'chat.example' } });
      expect(response.status, path).toBe(426);
      expect(response.body, path).toBe(body);
      expect(response.headers, path).toMatchObject({ upgrade: 'TLS/1.2, HTTP/1.1', via: '1.1 edge451' });
      expect(response.headers['x-hop'], path).toBeUndefined();
      expect(response.headers['keep-alive'], path).not.toBe('timeout=99');
    }
    // Kept alive: a second request on the same connection is answered, and only then does it close.
    const request = (last: boolean) =>
      `GET /plain HTTP/1.1\r\nHost: chat.example\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
    const raw = await sendRaw(edge.url, request(false) + request(true));
    expect([...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]))).toEqual([426, 426]);
    expect([...raw.matchAll(/\r\nconnection: ([^\r]*)/gi)].map((match) => match[1])).toEqual([
      'upgrade',
      'upgrade, close',
    ]);
  });
});
