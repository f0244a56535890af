import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sampleValue, until } from './support/cluster.js';
import { type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { send, statusOf } from './support/http.js';
import { closedPort, startOrigin } from './support/origin.js';

// Robustness at the connection and upstream level: origins that break HTTP, cut or stall; clients that
// upload, pipeline, stall, leave or idle; SIGTERM with responses in flight. Raw sockets on both sides, so
// each test sees the exact bytes the edge sent and what the origin saw.

const host = 'www.example.com';
const badGateway = 'Bad gateway: the origin could not be reached or answered badly.\n';
const gatewayTimeout = 'Gateway timeout: the origin did not answer in time.\n';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function edgeFor(origin: string, config: Record<string, unknown> = {}, site: Record<string, unknown> = {}) {
  return startEdge(testConfig({ sites: [{ name: 'site', hosts: [host], origin, ...site }], ...config }));
}

type RawOrigin = { url: string; heads: string[]; openConnections: () => number };

/**
 * An origin on a bare TCP server: `answer` writes whatever bytes it likes for each request head (request
 * bodies announced by Content-Length are skipped). `heads` is every request head received, in order.
 */
async function startRawOrigin(answer: (socket: Socket, head: string) => void): Promise<RawOrigin> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let skip = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (skip > 0) {
          const dropped = Math.min(skip, buffered.length);
          buffered = buffered.subarray(dropped);
          skip -= dropped;
          if (skip > 0) return;
        }
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 4);
        skip = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        heads.push(head);
        answer(socket, head);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${port}`, heads, openConnections: () => sockets.size };
}

/** The path of a raw request head. */
const pathOf = (head: string) => head.split(' ')[1] ?? '';

type Exchange = { raw: string; closed: boolean };

/**
 * Writes `text` on a new connection and reads until the edge closes it (`closed: true`) or `waitMs` passes
 * (`closed: false`: the edge kept the connection open).
 */
async function exchange(url: string, text: string | Buffer, waitMs = 3_000): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.write(text);
  const closed = await Promise.race([
    once(socket, 'close').then(() => true),
    sleep(waitMs).then(() => false),
  ]);
  socket.destroy();
  return { raw: Buffer.concat(chunks).toString('latin1'), closed };
}

/** Status, lower-cased header fields and the raw body bytes of the one response in `raw`. */
function parse(raw: string) {
  const end = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, end).split('\r\n').slice(1);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: statusOf(raw), headers, body: end < 0 ? '' : raw.slice(end + 4) };
}

async function metricsOf(edge: RunningEdge): Promise<string> {
  return (await send(`${edge.adminUrl}/metrics`)).body;
}

const originErrors = (metrics: string, code: string) =>
  sampleValue(metrics, `edge451_origin_errors_total{code="${code}"}`);

async function descriptorsOf(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
const getAndClose = (path: string) => get(path, 'Connection: close\r\n');

describe('an origin that frames its response ambiguously', () => {
  it('doubled or conflicting Content-Length, or Content-Length with chunked, is a 502 counted as EDGE_ORIGIN_PROTOCOL, never the body', async () => {
    const answers: Record<string, string> = {
      '/same-twice': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
      '/conflicting': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!',
      '/list': 'HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok!',
      '/with-chunked':
        'HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    };
    const origin = await startRawOrigin((socket, head) => socket.write(answers[pathOf(head)] ?? ''));
    const edge = await edgeFor(origin.url);
    for (const path of Object.keys(answers)) {
      const { status, body } = parse((await exchange(edge.url, getAndClose(path))).raw);
      expect({ path, status, body }).toEqual({ path, status: 502, body: badGateway });
    }
    expect(originErrors(await metricsOf(edge), 'EDGE_ORIGIN_PROTOCOL')).toBe(4);
    const warned = await edge.waitForLogs(
      (line) => line.level === 40 && line.error_code === 'EDGE_ORIGIN_PROTOCOL',
      Object.keys(answers).length,
    );
    expect(warned.map((line) => line.path).sort()).toEqual(Object.keys(answers).sort());
    expect(origin.heads.map(pathOf)).toEqual(Object.keys(answers));
  });

  it('bytes sent past the end of a response (after HEAD, 204, 304, past Content-Length, or late) never answer the next request', async () => {
    // What a desynchronised connection would hand the next request: a cacheable response of its own.
    const smuggled = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=600\r\n\r\nEVIL!';
    const quirks: Record<string, [method: string, bytes: string, lateBytes?: string]> = {
      '/head': ['HEAD', `HTTP/1.1 200 OK\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`],
      '/no-content': ['GET', `HTTP/1.1 204 No Content\r\n\r\n${smuggled}`],
      '/not-modified': ['GET', `HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n${smuggled}`],
      '/longer': ['GET', `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok${smuggled}`],
      '/late': ['GET', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', smuggled],
    };
    const origin = await startRawOrigin((socket, head) => {
      const quirk = quirks[pathOf(head)];
      if (quirk === undefined) {
        const path = pathOf(head);
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\nCache-Control: no-store\r\n\r\n${path}`,
        );
        return;
      }
      socket.write(quirk[1]);
      if (quirk[2] !== undefined) setTimeout(() => socket.write(quirk[2] ?? ''), 50);
    });
    // One connection to the origin: every request after a quirk would reuse the connection it left.
    const edge = await edgeFor(origin.url, {}, { connections: 1 });
    const expectedFirst: Record<string, [number, string]> = {
      '/head': [200, ''],
      '/no-content': [204, ''],
      '/not-modified': [304, ''],
      '/longer': [200, 'ok'],
      '/late': [200, 'ok'],
    };
    for (const [path, [method]] of Object.entries(quirks)) {
      const first = parse(
        (await exchange(edge.url, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`))
          .raw,
      );
      expect({ path, answer: [first.status, first.body] }).toEqual({ path, answer: expectedFirst[path] });
      await sleep(100);
      for (const next of [`${path}/next`, `${path}/next`]) {
        const answer = parse((await exchange(edge.url, getAndClose(next))).raw);
        expect({ next, status: answer.status, body: answer.body }).toEqual({ next, status: 200, body: next });
      }
    }
  });

  it('1xx hints, hop-by-hop fields and trailers are not end-to-end: the client gets the final answer without them, both ways', async () => {
    const origin = await startRawOrigin((socket) => {
      socket.end(
        'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
          'HTTP/1.1 200 OK\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\n' +
          'Upgrade: h2c\r\nProxy-Authenticate: Basic\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n' +
          'Trailer: X-Sum\r\nX-Kept: yes\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 42\r\n\r\n',
      );
    });
    const edge = await edgeFor(origin.url, { cache: false });
    const { raw, closed } = await exchange(
      edge.url,
      `GET /hop HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nProxy-Connection: keep-alive\r\n` +
        'Connection: close, X-Client-Secret\r\nX-Client-Secret: c\r\n\r\n',
    );
    expect(closed).toBe(true);
    const response = parse(raw);
    expect(raw.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(raw).not.toContain('103');
    for (const name of [
      'x-secret',
      'keep-alive',
      'upgrade',
      'proxy-authenticate',
      'proxy-connection',
      'te',
      'trailer',
      'link',
    ]) {
      expect({ name, value: response.headers[name] }).toEqual({ name, value: undefined });
    }
    expect(response.headers['x-kept']).toBe('yes');
    expect(response.headers.via).toBe('1.1 edge451');
    // The body is whole; the trailer section the origin sent is not passed on.
    expect(response.body).toBe('2\r\nok\r\n0\r\n\r\n');
    const seen = origin.heads[0]?.toLowerCase() ?? '';
    expect(seen).not.toMatch(/\r\n(upgrade|proxy-connection|x-client-secret):/);
  });
});

describe('a malformed origin response', () => {
  // undici reports llhttp's failures as HTTPParserError with `code` undefined (constants.ERROR is indexed by
  // name, not number), so the edge matches the error's name too. (A status below 100 trips an assertion
  // inside undici instead, and is still a 500: edge README, known gaps.)
  it('an invalid status line, an HTTP/0.9 answer, NUL or bare LF in a field, obs-fold and a space before the colon are each a 502 counted as EDGE_ORIGIN_PROTOCOL', async () => {
    const answers: Record<string, string> = {
      '/status-word': 'HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok',
      '/http09': 'hello, no status line at all',
      '/nul': 'HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok',
      '/bare-lf': 'HTTP/1.1 200 OK\r\nX-Bad: a\nSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok',
      '/obs-fold': 'HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\nok',
      '/space-colon': 'HTTP/1.1 200 OK\r\nX-Sp : a\r\nContent-Length: 2\r\n\r\nok',
    };
    const origin = await startRawOrigin((socket, head) => {
      socket.write(Buffer.from(answers[pathOf(head)] ?? '', 'latin1'));
      if (pathOf(head) === '/http09') socket.end();
    });
    const edge = await edgeFor(origin.url);
    const got: Record<string, [number, string]> = {};
    const want: Record<string, [number, string]> = {};
    for (const path of Object.keys(answers)) {
      const { raw } = await exchange(edge.url, getAndClose(path));
      expect(raw).not.toContain('injected=1');
      got[path] = [statusOf(raw), parse(raw).body];
      want[path] = [502, badGateway];
    }
    expect(edge.process.exitCode).toBeNull();
    expect(got).toEqual(want);
    expect(originErrors(await metricsOf(edge), 'EDGE_ORIGIN_PROTOCOL')).toBe(Object.keys(answers).length);
  });
});

describe('an origin whose response header section is over 16 KiB', () => {
  // undici's UND_ERR_HEADERS_OVERFLOW is the origin's failure: 502, counted.
  it('one 20 KiB field, or 3,000 small ones, is a 502 counted as EDGE_ORIGIN_PROTOCOL', async () => {
    const answers: Record<string, string> = {
      '/one-big': `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\nok`,
      '/many': `HTTP/1.1 200 OK\r\n${Array.from({ length: 3_000 }, (_, n) => `X-H${n}: v\r\n`).join('')}Content-Length: 2\r\n\r\nok`,
    };
    const origin = await startRawOrigin((socket, head) => socket.write(answers[pathOf(head)] ?? ''));
    const edge = await edgeFor(origin.url);
    const got: Record<string, number> = {};
    for (const path of Object.keys(answers))
      got[path] = statusOf((await exchange(edge.url, getAndClose(path))).raw);
    expect(got).toEqual({ '/one-big': 502, '/many': 502 });
    expect(originErrors(await metricsOf(edge), 'EDGE_ORIGIN_PROTOCOL')).toBe(2);
  });
});

describe('an origin that fails partway', () => {
  it('closing mid-headers is a 502, never answering a 504 within headersMs + 2 s; each logged at warn and counted by code', async () => {
    const origin = await startRawOrigin((socket, head) => {
      if (pathOf(head) === '/cut') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Le');
        setTimeout(() => socket.destroy(), 50);
      }
    });
    const edge = await edgeFor(
      origin.url,
      {},
      { timeouts: { connectMs: 1_000, headersMs: 500, bodyMs: 1_000 } },
    );
    const cut = parse((await exchange(edge.url, getAndClose('/cut'))).raw);
    expect([cut.status, cut.body, cut.headers['cache-control']]).toEqual([502, badGateway, 'no-store']);
    const started = Date.now();
    const never = parse((await exchange(edge.url, getAndClose('/never'))).raw);
    expect([never.status, never.body]).toEqual([504, gatewayTimeout]);
    expect(Date.now() - started).toBeLessThan(500 + 2_000);
    expect(origin.heads.map(pathOf)).toEqual(['/cut', '/never']);
    const metrics = await metricsOf(edge);
    expect(originErrors(metrics, 'EDGE_ORIGIN_UNREACHABLE')).toBe(1);
    expect(originErrors(metrics, 'EDGE_ORIGIN_TIMEOUT')).toBe(1);
    const warned = await edge.waitForLogs((line) => line.level === 40 && line.outcome === 'error', 2);
    expect(warned.map((line) => [line.path, line.status, line.error_code])).toEqual([
      ['/cut', 502, 'EDGE_ORIGIN_UNREACHABLE'],
      ['/never', 504, 'EDGE_ORIGIN_TIMEOUT'],
    ]);
  });

  it('a cacheable body cut short of its Content-Length: the client sees the connection close after the bytes sent, and nothing is stored', async () => {
    const origin = await startRawOrigin((socket) => {
      if (origin.heads.length === 1) {
        socket.write('HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 10\r\n\r\nhello');
        setTimeout(() => socket.destroy(), 100);
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 10\r\n\r\n0123456789');
    });
    const edge = await edgeFor(origin.url);
    // A keep-alive request: the connection closing is the edge's doing, not the client's.
    const first = await exchange(edge.url, get('/video'));
    expect(first.closed).toBe(true);
    const cutAnswer = parse(first.raw);
    expect([cutAnswer.status, cutAnswer.headers['content-length'], cutAnswer.body]).toEqual([
      200,
      '10',
      'hello',
    ]);
    const second = parse((await exchange(edge.url, getAndClose('/video'))).raw);
    expect(second.body).toBe('0123456789');
    expect(second.headers['cache-status']).toMatch(/fwd=uri-miss/);
    expect(origin.heads).toHaveLength(2);
    expect(originErrors(await metricsOf(edge), 'EDGE_ORIGIN_PROTOCOL')).toBe(1);
  });

  it('a chunked body the origin ends early (FIN, cache off): no last chunk reaches the client and the connection closes', async () => {
    const origin = await startRawOrigin((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => socket.end(), 100);
    });
    const edge = await edgeFor(origin.url, { cache: false });
    const { raw, closed } = await exchange(edge.url, get('/stream'));
    expect(closed).toBe(true);
    expect(parse(raw).status).toBe(200);
    expect(parse(raw).body).toBe('5\r\nhello\r\n');
  });

  it('a request coalesced behind a fill that is cut gets a whole answer of its own, never the cut one', async () => {
    const origin = await startRawOrigin((socket) => {
      if (origin.heads.length === 1) {
        socket.write('HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 10\r\n\r\nhello');
        setTimeout(() => socket.destroy(), 300);
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 10\r\n\r\n0123456789');
    });
    const edge = await edgeFor(origin.url);
    const [leader, waiter] = await Promise.all([
      exchange(edge.url, get('/shared')),
      sleep(50).then(() => exchange(edge.url, getAndClose('/shared'))),
    ]);
    expect([leader.closed, parse(leader.raw).body]).toEqual([true, 'hello']);
    expect([parse(waiter.raw).status, parse(waiter.raw).body]).toEqual([200, '0123456789']);
    expect(origin.heads).toHaveLength(2);
  });

  it('a body that stalls past bodyMs: the client connection is cut within bodyMs + 2 s and nothing is stored', async () => {
    const origin = await startRawOrigin((socket) => {
      if (origin.heads.length === 1) {
        socket.write('HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 10\r\n\r\nhello');
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 10\r\n\r\n0123456789');
    });
    const edge = await edgeFor(
      origin.url,
      {},
      { timeouts: { connectMs: 1_000, headersMs: 1_000, bodyMs: 500 } },
    );
    const first = await exchange(edge.url, get('/stall'), 500 + 2_000);
    expect(first.closed).toBe(true);
    expect(parse(first.raw).body).toBe('hello');
    const second = parse((await exchange(edge.url, getAndClose('/stall'))).raw);
    expect(second.body).toBe('0123456789');
    expect(origin.heads).toHaveLength(2);
  });
});

describe('a body that times out mid-stream', () => {
  // respond() reports mid-body failures as EDGE_ORIGIN_PROTOCOL, except a body timeout, which stays
  // EDGE_ORIGIN_TIMEOUT: an operator alerting on origin timeouts sees body timeouts too.
  it('a stalled body is logged and counted with code EDGE_ORIGIN_TIMEOUT', async () => {
    const origin = await startRawOrigin((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 10\r\n\r\nhello');
    });
    const edge = await edgeFor(
      origin.url,
      {},
      { timeouts: { connectMs: 1_000, headersMs: 1_000, bodyMs: 300 } },
    );
    expect((await exchange(edge.url, get('/stall'), 300 + 2_000)).closed).toBe(true);
    const line = await edge.waitForLog((entry) => entry.path === '/stall');
    expect([line.level, line.error_code]).toEqual([40, 'EDGE_ORIGIN_TIMEOUT']);
    expect(originErrors(await metricsOf(edge), 'EDGE_ORIGIN_TIMEOUT')).toBe(1);
  });
});

describe('a request with a body to an origin that cannot be reached', () => {
  // undici destroys the request body stream with the connection error, so the body has errored; only
  // node:http's own "aborted" error (the client's connection ended first) makes it the client's fault.
  it('a complete POST to a refused origin is a 502 counted as EDGE_ORIGIN_UNREACHABLE, like the GET before it', async () => {
    const edge = await edgeFor(`http://127.0.0.1:${await closedPort()}`);
    const getAnswer = parse((await exchange(edge.url, getAndClose('/page'))).raw);
    expect([getAnswer.status, getAnswer.body]).toEqual([502, badGateway]);
    const { raw } = await exchange(
      edge.url,
      `POST /form HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
    );
    const line = await edge.waitForLog((entry) => entry.path === '/form');
    expect({ status: statusOf(raw), code: line.error_code, outcome: line.outcome }).toEqual({
      status: 502,
      code: 'EDGE_ORIGIN_UNREACHABLE',
      outcome: 'error',
    });
    expect(originErrors(await metricsOf(edge), 'EDGE_ORIGIN_UNREACHABLE')).toBe(2);
  });
});

describe('request bodies', () => {
  it('an origin that answers 413 without reading the upload: the client gets the 413 and its body', async () => {
    const origin = await startOrigin((_req, res) => {
      res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' });
      res.end('too big\n');
    });
    const edge = await edgeFor(origin.url, { cache: false });
    const { hostname, port } = new URL(edge.url);
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`);
    for (let sent = 0; sent < 16 && !socket.destroyed; sent += 1) {
      socket.write(Buffer.alloc(64 * 1024, 1));
      await sleep(10);
    }
    await until(
      () => Buffer.concat(chunks).toString('latin1').includes('\r\n0\r\n\r\n'),
      'the 413 arrived',
      3_000,
    );
    socket.destroy();
    const answer = parse(Buffer.concat(chunks).toString('latin1'));
    expect([answer.status, answer.body]).toEqual([413, '8\r\ntoo big\n\r\n0\r\n\r\n']);
    expect(origin.requests.map((seen) => seen.url)).toEqual(['/upload']);
    expect(originErrors(await metricsOf(edge), 'EDGE_ORIGIN_PROTOCOL')).toBeUndefined();
  });

  it('a client that uploads slowly then disconnects: the origin sees the upload aborted, incomplete; the request counts as aborted', async () => {
    let received = 0;
    const originSaw: string[] = [];
    const origin = await startOrigin((req) => {
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      req.on('close', () => originSaw.push(`closed complete=${req.complete}`));
    });
    const edge = await edgeFor(origin.url);
    const { hostname, port } = new URL(edge.url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    socket.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${1024 * 1024}\r\n\r\n`);
    for (let sent = 0; sent < 5; sent += 1) {
      socket.write(Buffer.alloc(16 * 1024, 1));
      await sleep(40);
    }
    await until(() => received === 5 * 16 * 1024, 'the origin read what was sent', 3_000);
    socket.destroy();
    await until(() => originSaw.length === 1, 'the origin saw the upload end', 2_000);
    expect(originSaw).toEqual(['closed complete=false']);
    const line = await edge.waitForLog((entry) => entry.path === '/upload');
    expect([line.outcome, line.error_code]).toEqual(['aborted', 'EDGE_CLIENT_ABORTED']);
    const metrics = await metricsOf(edge);
    expect(sampleValue(metrics, 'edge451_requests_total{outcome="aborted"}')).toBe(1);
    expect(metrics).not.toMatch(/^edge451_origin_errors_total\{/m);
  });

  it('Expect: 100-continue: the client gets 100 Continue, then the answer; the body reaches the origin whole and Expect does not', async () => {
    const origin = await startOrigin((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (chunk: Buffer) => parts.push(chunk));
      req.on('end', () => res.end(`got ${Buffer.concat(parts).toString()}`));
    });
    const edge = await edgeFor(origin.url);
    const { hostname, port } = new URL(edge.url);
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.write(
      `POST /form HTTP/1.1\r\nHost: ${host}\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`,
    );
    await until(() => chunks.length > 0, 'the interim answer', 2_000);
    expect(Buffer.concat(chunks).toString()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    socket.write('hello');
    await once(socket, 'close');
    const final = Buffer.concat(chunks).toString().slice('HTTP/1.1 100 Continue\r\n\r\n'.length);
    expect([statusOf(final), parse(final).body]).toEqual([200, 'got hello']);
    expect(origin.requests[0]?.headers.expect).toBeUndefined();
  });

  it('upload backpressure: an origin that does not read stops a 256 MiB upload after a bounded amount', async () => {
    // The origin never reads the request body.
    const origin = await startOrigin(() => undefined);
    const edge = await edgeFor(
      origin.url,
      {},
      { timeouts: { connectMs: 1_000, headersMs: 10_000, bodyMs: 10_000 } },
    );
    let pulled = 0;
    const body = Readable.from(
      (async function* () {
        for (let n = 0; n < 4_096; n += 1) {
          pulled += 64 * 1024;
          yield Buffer.alloc(64 * 1024, 1);
        }
      })(),
    );
    request(`${edge.url}/upload`, {
      method: 'POST',
      headers: { host, 'content-length': String(4_096 * 64 * 1024) },
      body,
    }).catch(() => undefined);
    await sleep(1_000);
    const stalledAt = pulled;
    await sleep(400);
    expect(pulled).toBe(stalledAt);
    expect(stalledAt).toBeLessThan(64 * 1024 * 1024);
    expect(origin.requests.map((seen) => seen.url)).toEqual(['/upload']);
    expect(edge.process.exitCode).toBeNull();
  });
});

describe('client connections', () => {
  it('pipelined requests behind a slow first one are answered in order, each with its own body', async () => {
    const origin = await startOrigin((req, res) => {
      setTimeout(
        () => {
          res.writeHead(200, { 'content-length': String(req.url?.length ?? 0), 'cache-control': 'no-store' });
          res.end(req.url);
        },
        req.url === '/slow' ? 500 : 0,
      );
    });
    const edge = await edgeFor(origin.url);
    const { raw, closed } = await exchange(edge.url, get('/slow') + get('/fast') + getAndClose('/last'));
    expect(closed).toBe(true);
    const bodies = raw
      .split(/HTTP\/1\.1 /)
      .slice(1)
      .map((one) => parse(`HTTP/1.1 ${one}`));
    expect(bodies.map((one) => [one.status, one.body])).toEqual([
      [200, '/slow'],
      [200, '/fast'],
      [200, '/last'],
    ]);
  });

  it('download backpressure: a client that reads nothing stops a 256 MiB cacheable download after a bounded amount', async () => {
    let written = 0;
    const size = 256 * 1024 * 1024;
    const origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-length': String(size), 'cache-control': 'max-age=60' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (written < size) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const edge = await edgeFor(origin.url);
    const { hostname, port } = new URL(edge.url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    socket.write(get('/big'));
    await once(socket, 'data');
    socket.pause();
    await sleep(1_000);
    const stalledAt = written;
    await sleep(400);
    expect(written).toBe(stalledAt);
    // maxEntryBytes (8 MiB by default) may be held while the cache tries to keep it, plus socket buffers.
    expect(stalledAt).toBeLessThan(32 * 1024 * 1024);
    socket.destroy();
  });

  it("500 requests abandoned before or during the answer: each counts as aborted, the origin sees every one closed, the edge's descriptors come back", async () => {
    let arrived = 0;
    let closedAtOrigin = 0;
    const origin = await startOrigin((req, res) => {
      res.on('close', () => {
        closedAtOrigin += 1;
      });
      if (req.url === '/warm') return void res.end('warm');
      arrived += 1;
      if (arrived % 2 === 0) {
        res.writeHead(200, { 'cache-control': 'no-store' });
        res.write(Buffer.alloc(256 * 1024));
      } // else: never answers
    });
    const edge = await edgeFor(origin.url);
    const pid = edge.process.pid ?? 0;
    expect((await send(`${edge.url}/warm`, { headers: { host } })).body).toBe('warm');
    await sleep(100);
    const before = await descriptorsOf(pid);
    const { hostname, port } = new URL(edge.url);
    for (let batch = 0; batch < 10; batch += 1) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, index) => {
          const socket = connect(Number(port), hostname);
          socket.on('error', () => undefined);
          socket.write(get(`/abandon-${batch}-${index}`));
          await Promise.race([once(socket, 'data'), sleep(150)]);
          socket.destroy();
        }),
      );
    }
    await until(() => closedAtOrigin === 501, 'the origin saw every request closed', 5_000);
    await until(async () => (await descriptorsOf(pid)) <= before, 'the descriptors came back', 10_000);
    expect(arrived).toBe(500);
    const metrics = await metricsOf(edge);
    expect(sampleValue(metrics, 'edge451_requests_total{outcome="aborted"}')).toBe(500);
    expect(metrics).not.toMatch(/^edge451_origin_errors_total\{/m);
    expect(edge.process.exitCode).toBeNull();
  });

  it('300 idle connections: the node still answers, and their descriptors are released when they go', async () => {
    const origin = await startOrigin();
    const edge = await edgeFor(origin.url);
    const pid = edge.process.pid ?? 0;
    const before = await descriptorsOf(pid);
    const { hostname, port } = new URL(edge.url);
    const idle = await Promise.all(
      Array.from({ length: 300 }, async () => {
        const socket = connect(Number(port), hostname);
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        return socket;
      }),
    );
    await until(async () => (await descriptorsOf(pid)) >= before + 300, 'the edge accepted them', 5_000);
    const answer = await send(`${edge.url}/still`, { headers: { host } });
    expect([answer.status, answer.body]).toEqual([200, 'origin says hello to /still\n']);
    for (const socket of idle) socket.destroy();
    await until(async () => (await descriptorsOf(pid)) <= before + 2, 'the descriptors came back', 5_000);
  });
});

describe('SIGTERM (DECISIONS #11)', () => {
  it('a download streaming when SIGTERM arrives finishes whole within drainMs, new connections are refused, exit 0', async () => {
    const size = 2 * 1024 * 1024;
    const origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-length': String(size), 'cache-control': 'no-store' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(Buffer.alloc(64 * 1024, 7));
        sent += 64 * 1024;
        if (sent >= size) {
          clearInterval(timer);
          res.end();
        }
      }, 40);
      res.on('close', () => clearInterval(timer));
    });
    const edge = await edgeFor(origin.url, { shutdown: { drainMs: 10_000 } });
    const download = await request(`${edge.url}/big`, { headers: { host } });
    const exited = edge.stop('SIGTERM');
    await edge.waitForLog((line) => line.msg === 'draining');
    await expect(send(`${edge.url}/late`, { headers: { host } })).rejects.toThrow();
    let received = 0;
    for await (const part of download.body) received += (part as Buffer).length;
    expect(received).toBe(size);
    expect(await exited).toBe(0);
    expect(origin.requests.map((seen) => seen.url)).toEqual(['/big']);
  });

  it('a response still streaming at the deadline is cut (no last chunk), the origin sees the abort, and the node exits 0 within drainMs + 2 s', async () => {
    let originSaw = '';
    const origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      const timer = setInterval(() => res.write('tick\n'), 50);
      res.on('close', () => {
        clearInterval(timer);
        originSaw = `closed finished=${res.writableFinished}`;
      });
    });
    const edge = await edgeFor(origin.url, { shutdown: { drainMs: 500 } });
    const { hostname, port } = new URL(edge.url);
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.write(get('/endless'));
    await once(socket, 'data');
    const started = Date.now();
    expect(await edge.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(500 + 2_000);
    await until(() => socket.destroyed || socket.readableEnded, 'the client connection closed', 2_000);
    const raw = Buffer.concat(chunks).toString('latin1');
    expect(raw.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(raw).toContain('5\r\ntick\n\r\n');
    expect(raw).not.toContain('\r\n0\r\n\r\n');
    await until(() => originSaw !== '', 'the origin saw the response end', 2_000);
    expect(originSaw).toBe('closed finished=false');
  });
});
