import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { clientIps } from './support/blocking-order.js';
import { sampleValue, until } from './support/cluster.js';
import { startEdge, testConfig } from './support/edge.js';
import { statusOf } from './support/http.js';
import { startOrigin, streamBytes, type TestOrigin } from './support/origin.js';
import { pairOf, startEdgeWithTls, testCa } from './support/tls.js';

// clientTimeouts (slowloris protection) over real sockets against the real binary, on each kind of listener:
// plain, TLS, and PROXY protocol (whose connections reach node:http without it ever listening). Without the
// setting, node:http's defaults apply: 60 s for the head, 300 s for the request, 5 s (+1 s) of keep-alive,
// checked every 30 s, so none of these clients would be cut within the time a test waits.

const host = 'news.example';
const short = { headersMs: 500, requestMs: 1_500, keepAliveMs: 1_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Kind = 'plain' | 'TLS' | 'PROXY-protocol';
const kinds: Kind[] = ['plain', 'TLS', 'PROXY-protocol'];

/** Opens a connection ready for HTTP bytes: TCP, past the TLS handshake, or past a PROXY header. */
type Connector = () => Promise<Socket>;

/** One site for `host`, with its certificate for TLS listeners. */
const sitesFor = (origin: TestOrigin) => [
  { name: 'news', hosts: [host], origin: origin.url, tls: pairOf('news-ecdsa') },
];

/** The binary with one listener of `kind` in front of `origin`, and `clientTimeouts`. */
async function edgeWith(kind: Kind, origin: TestOrigin, clientTimeouts: object = short) {
  const sites = sitesFor(origin);
  if (kind === 'TLS') {
    const { edge, tlsPort } = await startEdgeWithTls({ sites, extra: { clientTimeouts } });
    const open: Connector = async () => {
      const socket = connectTls({ host: '127.0.0.1', port: tlsPort, servername: host, ca: testCa });
      socket.on('error', () => undefined);
      await once(socket, 'secureConnect');
      return socket;
    };
    return { edge, open };
  }
  const clientIp =
    kind === 'PROXY-protocol' ? { source: 'proxy-protocol', trustedProxies: ['127.0.0.1/32'] } : undefined;
  const edge = await startEdge(testConfig({ sites, clientTimeouts, ...(clientIp && { clientIp }) }));
  const { port } = new URL(edge.url);
  const open: Connector = async () => {
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    if (kind === 'PROXY-protocol') socket.write(`PROXY TCP4 ${clientIps.GB} 127.0.0.1 5555 80\r\n`);
    return socket;
  };
  return { edge, open };
}

type Watched = {
  raw: string;
  /** Milliseconds from the start of the watch until the edge closed the connection; undefined: still open. */
  closedAfterMs: number | undefined;
};

/**
 * Writes `first`, then each of `rest` `everyMs` apart (round and round when `repeat`), until the edge closes
 * the connection or `waitMs` passes. Timed from the first write.
 */
async function trickle(
  socket: Socket,
  first: string,
  rest: string[],
  options: { everyMs: number; repeat?: boolean; waitMs?: number },
): Promise<Watched> {
  const startedAt = Date.now();
  const watching = watch(socket, options.waitMs ?? 4_000);
  socket.write(first);
  void (async () => {
    for (let index = 0; options.repeat === true || index < rest.length; index += 1) {
      await sleep(options.everyMs);
      if (!socket.writable) return;
      socket.write(rest[index % rest.length] ?? '');
    }
  })();
  const { raw, closedAt } = await watching;
  return { raw, closedAfterMs: closedAt === undefined ? undefined : closedAt - startedAt };
}

async function sendTimeoutsOf(adminUrl: string): Promise<number | undefined> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return sampleValue(text, 'edge451_client_send_timeouts_total');
}

/** Everything read until the edge closes the connection (and when), or `waitMs` passes; then destroys it. */
async function watch(socket: Socket, waitMs: number): Promise<{ raw: string; closedAt: number | undefined }> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  // Not events.once: a cut that finds a client's bytes unread resets the connection, and 'error'
  // (ECONNRESET, after the 408 was read) would reject it. 'close' follows either way.
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  const closedAt = await Promise.race([closed, sleep(waitMs).then(() => undefined)]);
  socket.destroy();
  return { raw: Buffer.concat(chunks).toString('latin1'), closedAt };
}

/** An origin that answers once it has read the whole body, and says which uploads ended and which broke. */
async function readingOrigin() {
  const uploads: Array<{ url: string; bytes: number; ended: boolean; closed: boolean }> = [];
  const origin = await startOrigin((req: IncomingMessage, res: ServerResponse) => {
    const upload = { url: req.url ?? '', bytes: 0, ended: false, closed: false };
    uploads.push(upload);
    req.on('data', (chunk: Buffer) => {
      upload.bytes += chunk.length;
    });
    req.on('end', () => {
      upload.ended = true;
      res.end(`read ${upload.bytes} bytes\n`);
    });
    req.on('close', () => {
      upload.closed = true;
    });
  });
  return { origin, uploads };
}

const headTo = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
const postHead = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\n\r\n`;

describe('clientTimeouts: headersMs 500, requestMs 1500, keepAliveMs 1000', () => {
  it.each(kinds)(
    'on a %s listener, a request head trickled a line every 100 ms is answered 408 and closed within headersMs + 1 s and never reaches the origin; a head sent within 200 ms is served',
    async (kind) => {
      const origin = await startOrigin();
      const { open } = await edgeWith(kind, origin);
      const [slowloris, inTime] = await Promise.all([
        open().then((socket) =>
          trickle(socket, headTo('/slowloris'), ['X-Slow: 1\r\n'], { everyMs: 100, repeat: true }),
        ),
        open().then((socket) =>
          trickle(socket, 'GET /in-time HTTP/1.1\r\n', [`Host: ${host}\r\n`, 'Connection: close\r\n\r\n'], {
            everyMs: 100,
          }),
        ),
      ]);
      expect(statusOf(slowloris.raw)).toBe(408);
      expect(slowloris.closedAfterMs).toBeGreaterThanOrEqual(short.headersMs - 50);
      expect(slowloris.closedAfterMs).toBeLessThan(short.headersMs + 1_000);
      expect(statusOf(inTime.raw)).toBe(200);
      expect(origin.requests.map((request) => request.url)).toEqual(['/in-time']);
    },
  );

  it.each(kinds)(
    'on a %s listener, a body trickled a byte every 100 ms is answered 408 and cut within requestMs + 1 s, and the origin sees the upload break; a body sent over 600 ms is served',
    async (kind) => {
      const { origin, uploads } = await readingOrigin();
      const { open } = await edgeWith(kind, origin);
      const [trickled, inTime] = await Promise.all([
        open().then((socket) =>
          trickle(socket, postHead('/trickled', 100), ['x'], { everyMs: 100, repeat: true }),
        ),
        open().then((socket) =>
          trickle(
            socket,
            postHead('/in-time', 6).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'),
            ['ab', 'cd', 'ef'],
            { everyMs: 200 },
          ),
        ),
      ]);
      expect(statusOf(trickled.raw)).toBe(408);
      expect(trickled.closedAfterMs).toBeGreaterThanOrEqual(short.requestMs - 50);
      expect(trickled.closedAfterMs).toBeLessThan(short.requestMs + 1_000);
      expect([statusOf(inTime.raw), inTime.raw.endsWith('read 6 bytes\n')]).toEqual([200, true]);
      await until(() => uploads.every((upload) => upload.closed), 'the origin saw both uploads close');
      const seen = Object.fromEntries(uploads.map(({ url, ended, bytes }) => [url, { ended, bytes }]));
      expect(seen['/in-time']).toEqual({ ended: true, bytes: 6 });
      expect(seen['/trickled']?.ended).toBe(false);
      expect(seen['/trickled']?.bytes).toBeLessThan(100);
    },
  );

  it.each(kinds)(
    "on a %s listener, a keep-alive connection left idle after a 200 is closed keepAliveMs after it (plus node's 1 s margin), and told so (Keep-Alive: timeout=1)",
    async (kind) => {
      const origin = await startOrigin();
      const { open } = await edgeWith(kind, origin);
      const socket = await open();
      socket.write(`${headTo('/idle')}\r\n`);
      const [answer] = (await once(socket, 'data')) as [Buffer];
      const answeredAt = Date.now();
      const { closedAt } = await watch(socket, 5_000);
      expect(statusOf(answer.toString('latin1'))).toBe(200);
      expect(answer.toString('latin1')).toMatch(/\r\nKeep-Alive: timeout=1\r\n/i);
      const idleMs = closedAt === undefined ? undefined : closedAt - answeredAt;
      expect(idleMs).toBeGreaterThanOrEqual(short.keepAliveMs - 50);
      expect(idleMs).toBeLessThan(short.keepAliveMs + 2_000);
    },
  );
});

describe('clientTimeouts.sendMs 1000: clients that stop taking what the edge sends', () => {
  const sendMs = { ...short, keepAliveMs: 10_000, sendMs: 1_000 };
  const MiB = 1024 * 1024;

  /** Streams `size` bytes with backpressure; says when the edge closed the origin request. */
  function streamingOrigin(size: number, cacheControl = 'no-store') {
    const closed: string[] = [];
    return startOrigin((req, res) => {
      res.on('close', () => closed.push(req.url ?? ''));
      streamBytes(res, size, { 'cache-control': cacheControl });
    }).then((origin) => ({ origin, closed }));
  }

  it.each(kinds)(
    'on a %s listener, a client that reads the first bytes of a 256 MiB no-store response and then nothing is cut within 1-2 s of stalling (3.5 s allowed), and the origin request is aborted',
    async (kind) => {
      const { origin, closed } = await streamingOrigin(256 * MiB);
      const { edge, open } = await edgeWith(kind, origin, sendMs);
      const socket = await open();
      socket.write(`${headTo('/big')}\r\n`);
      await once(socket, 'data');
      socket.pause();
      const pausedAt = Date.now();
      // A paused client sees nothing of the cut; the origin does.
      await until(() => closed.includes('/big'), 'the origin request was aborted', 8_000);
      expect(Date.now() - pausedAt).toBeLessThan(3_500);
      expect(await sendTimeoutsOf(edge.adminUrl)).toBe(1);
      const { closedAt } = await watch(socket.resume(), 3_000);
      expect(closedAt).toBeDefined();
    },
  );

  it('a client that never reads a cached 7 MiB hit (written whole with res.end) is cut, freeing what the socket held', async () => {
    const { origin } = await streamingOrigin(7 * MiB, 'max-age=600');
    const edge = await startEdge(testConfig({ sites: sitesFor(origin), clientTimeouts: sendMs }));
    const { port } = new URL(edge.url);
    const warm = connect(Number(port), '127.0.0.1');
    warm.on('error', () => undefined);
    warm.write(`${headTo('/hit')}Connection: close\r\n\r\n`);
    expect((await watch(warm, 8_000)).closedAt).toBeDefined();
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`${headTo('/hit')}\r\n`);
    await once(socket, 'data');
    socket.pause();
    const pausedAt = Date.now();
    await until(async () => (await sendTimeoutsOf(edge.adminUrl)) === 1, 'the hit was cut', 8_000);
    expect(Date.now() - pausedAt).toBeLessThan(3_500);
    expect(origin.requests).toHaveLength(1);
    const { closedAt } = await watch(socket.resume(), 3_000);
    expect(closedAt).toBeDefined();
  });

  it('a client that reads slowly (pausing 700 ms, then reading 20 ms, over and over) gets all of 64 MiB', async () => {
    const size = 64 * MiB;
    const { origin } = await streamingOrigin(size);
    const { edge, open } = await edgeWith('plain', origin, sendMs);
    const socket = await open();
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.write(`${headTo('/slow')}Connection: close\r\n\r\n`);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    let done = false;
    void closed.then(() => {
      done = true;
    });
    const startedAt = Date.now();
    while (!done && Date.now() - startedAt < 60_000) {
      socket.pause();
      await sleep(700);
      socket.resume();
      await sleep(20);
    }
    await closed;
    expect(await sendTimeoutsOf(edge.adminUrl)).toBe(0);
    expect(received).toBeGreaterThan(size);
    // It did stall the edge's writes, or the test would prove nothing.
    expect(Date.now() - startedAt).toBeGreaterThan(2_000);
  }, 90_000);

  it('a response whose origin is silent for 2.5 s mid-body (bodyMs 30 s) is not cut: the client was taking everything', async () => {
    const origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-length': '8', 'cache-control': 'no-store' });
      res.write('1234');
      setTimeout(() => res.end('5678'), 2_500);
    });
    const { open } = await edgeWith('plain', origin, sendMs);
    const socket = await open();
    socket.write(`${headTo('/quiet')}Connection: close\r\n\r\n`);
    const { raw, closedAt } = await watch(socket, 8_000);
    expect(closedAt).toBeDefined();
    expect(raw.endsWith('\r\n\r\n12345678')).toBe(true);
  });
});

describe('clientTimeouts and SIGHUP', () => {
  it('a reload applies new timeouts to the running listeners at once, to connections already open too, with no restart-only warning', async () => {
    const origin = await startOrigin();
    const long = { headersMs: 10_000, requestMs: 20_000, keepAliveMs: 10_000 };
    const { edge, open } = await edgeWith('plain', origin, long);
    const slowloris = (socket: Socket, waitMs: number) =>
      trickle(socket, headTo('/slowloris'), ['X-Slow: 1\r\n'], { everyMs: 100, repeat: true, waitMs });
    // Before: a 10 s headers timeout leaves a slow head alone for 1.5 s.
    expect((await slowloris(await open(), 1_500)).closedAfterMs).toBeUndefined();

    const openedBefore = await open();
    const beforeStartedAt = Date.now();
    const before = slowloris(openedBefore, 6_000);
    // Older than the new headers timeout by the time it applies: the reload must cut it, not let it finish.
    await sleep(short.headersMs + 200);
    expect(openedBefore.destroyed).toBe(false);
    await writeFile(
      edge.configFile,
      stringify(testConfig({ sites: sitesFor(origin), clientTimeouts: short })),
    );
    edge.process.kill('SIGHUP');
    await edge.waitForLog((line) => line.msg === 'reloaded');
    const reloadedAt = Date.now();

    // node:http checks every second here (a tenth of the 10 s it started with, at most 1 s).
    const after = await slowloris(await open(), 4_000);
    expect(statusOf(after.raw)).toBe(408);
    expect(after.closedAfterMs).toBeLessThan(short.headersMs + 1_500);
    const cutBefore = await before;
    expect(statusOf(cutBefore.raw)).toBe(408);
    expect(beforeStartedAt + (cutBefore.closedAfterMs ?? Number.POSITIVE_INFINITY) - reloadedAt).toBeLessThan(
      1_500,
    );

    const socket = await open();
    socket.write(`${headTo('/idle')}\r\n`);
    const [answer] = (await once(socket, 'data')) as [Buffer];
    expect(answer.toString('latin1')).toMatch(/\r\nKeep-Alive: timeout=1\r\n/i);
    const answeredAt = Date.now();
    const { closedAt } = await watch(socket, 5_000);
    expect(closedAt === undefined ? undefined : closedAt - answeredAt).toBeLessThan(
      short.keepAliveMs + 2_000,
    );
    expect(edge.logs().some((line) => line.msg === 'these config changes take effect on restart only')).toBe(
      false,
    );
  });
});

describe('clientTimeouts.handshakeMs: the PROXY header and the TLS handshake, from the TCP accept', () => {
  const proxyProtocol = { source: 'proxy-protocol', trustedProxies: ['127.0.0.1/32'] };
  type Preamble = 'TLS' | 'PROXY-protocol' | 'TLS behind PROXY';

  /** The edge with `handshakeMs` and the port whose connections start with `preamble`. */
  async function edgeExpecting(preamble: Preamble, origin: TestOrigin, handshakeMs: number) {
    const clientTimeouts = { ...short, handshakeMs };
    if (preamble === 'PROXY-protocol') {
      const edge = await startEdge(
        testConfig({ sites: sitesFor(origin), clientTimeouts, clientIp: proxyProtocol }),
      );
      return { edge, port: Number(new URL(edge.url).port) };
    }
    const clientIp = preamble === 'TLS' ? {} : { clientIp: proxyProtocol };
    const { edge, tlsPort } = await startEdgeWithTls({
      sites: sitesFor(origin),
      extra: { clientTimeouts, ...clientIp },
    });
    return { edge, port: tlsPort };
  }

  async function tcp(port: number): Promise<Socket> {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    return socket;
  }

  /** Milliseconds from now until the edge closes `socket` (undefined: still open after `waitMs`). */
  async function closedAfter(socket: Socket, waitMs: number): Promise<number | undefined> {
    const startedAt = Date.now();
    const { closedAt } = await watch(socket, waitMs);
    return closedAt === undefined ? undefined : closedAt - startedAt;
  }

  /** A request over a connection that finishes its preamble at once: the budget leaves real clients alone. */
  async function servedInTime(preamble: Preamble, port: number): Promise<number | undefined> {
    const raw = await tcp(port);
    if (preamble !== 'TLS') raw.write(`PROXY TCP4 ${clientIps.GB} 127.0.0.1 5555 443\r\n`);
    let socket: Socket = raw;
    if (preamble !== 'PROXY-protocol') {
      socket = connectTls({ socket: raw, servername: host, ca: testCa });
      socket.on('error', () => undefined);
      await once(socket, 'secureConnect');
    }
    socket.write(`${headTo('/in-time')}Connection: close\r\n\r\n`);
    return statusOf((await watch(socket, 4_000)).raw);
  }

  it.each<Preamble>(['TLS', 'PROXY-protocol', 'TLS behind PROXY'])(
    'a %s connection that sends nothing is closed handshakeMs (600) after the accept; one that completes its preamble at once is served',
    async (preamble) => {
      const origin = await startOrigin();
      const { port } = await edgeExpecting(preamble, origin, 600);
      const silent = await tcp(port);
      const silentFor = await closedAfter(silent, 3_000);
      expect(silentFor).toBeGreaterThanOrEqual(550);
      expect(silentFor).toBeLessThan(1_300);
      expect(await servedInTime(preamble, port)).toBe(200);
    },
  );

  it('behind a PROXY header, the TLS handshake gets only what is left of the budget, not a fresh one', async () => {
    const origin = await startOrigin();
    const { port } = await edgeExpecting('TLS behind PROXY', origin, 1_000);
    const socket = await tcp(port);
    const closing = closedAfter(socket, 3_000);
    await sleep(600);
    socket.write(`PROXY TCP4 ${clientIps.GB} 127.0.0.1 5555 443\r\n`);
    // A fresh 1 s for the ClientHello would close it about 1.6 s after the accept.
    const silentFor = await closing;
    expect(silentFor).toBeGreaterThanOrEqual(950);
    expect(silentFor).toBeLessThan(1_450);
  });

  it('a reload applies a new handshakeMs from the next connection', async () => {
    const origin = await startOrigin();
    const { edge, port } = await edgeExpecting('PROXY-protocol', origin, 20_000);
    expect(await closedAfter(await tcp(port), 1_500)).toBeUndefined();
    await writeFile(
      edge.configFile,
      stringify(
        testConfig({
          sites: sitesFor(origin),
          clientTimeouts: { ...short, handshakeMs: 500 },
          clientIp: proxyProtocol,
        }),
      ),
    );
    edge.process.kill('SIGHUP');
    await edge.waitForLog((line) => line.msg === 'reloaded');
    const silentFor = await closedAfter(await tcp(port), 3_000);
    expect(silentFor).toBeGreaterThanOrEqual(450);
    expect(silentFor).toBeLessThan(1_200);
  });
});
