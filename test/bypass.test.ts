import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clientIps, motogpOrder } from './support/blocking-order.js';
import { countryTestDatabase, type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { send, sendRaw, statusOf } from './support/http.js';
import { startOrigin, type TestOrigin } from './support/origin.js';

// Attempts to escape a blocking order (get the origin's answer for a blocked host from a blocked country),
// to poison the cache or to crash the node, each over real sockets against the real binary. Malformed
// requests are written byte for byte on a raw socket; whether an escape worked is read off the origin's
// request log, not off the edge's word.

const { FR, GB, US } = clientIps;
/** Placed in FR by an override: the MaxMind test database has no French IPv4 address. */
const FR4 = '90.0.0.1';

const order = { ...motogpOrder, hosts: ['motogpstream.me', '*.livetv.me'] };
const trustedLoopback = { source: 'x-forwarded-for', trustedProxies: ['127.0.0.1/32'] };
const trustedLoopbackForwarded = { source: 'forwarded', trustedProxies: ['127.0.0.1/32'] };
/** Loopback is an ordinary client here, and it is in France: every forwarding header is its own claim. */
const untrustedFrenchLoopback = { source: 'x-forwarded-for', trustedProxies: ['10.0.0.0/8'] };
type ClientIp = { source: string; trustedProxies: string[] };

/** What the origin saw, reflected into a cacheable JSON body: the path, Host, X-Forwarded-Host and body. */
function reflect(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.stringify({
      url: req.url,
      host: req.headers.host,
      xfh: req.headers['x-forwarded-host'],
      body: Buffer.concat(chunks).toString(),
    });
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=600',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}

/**
 * The edge in front of a reflecting origin: one site for the blocked hosts and `fine.example`, the client's
 * host preserved (so the origin's Host shows which site it was asked for), the cache on.
 */
async function startWorld(
  clientIp: ClientIp = trustedLoopback,
): Promise<{ edge: RunningEdge; origin: TestOrigin }> {
  const origin = await startOrigin(reflect);
  // Loopback is placed in France only for the untrusted worlds (variants spread that object, same list).
  const frenchLoopback =
    clientIp.trustedProxies === untrustedFrenchLoopback.trustedProxies
      ? [{ cidr: '127.0.0.0/8', country: 'FR' }]
      : [];
  const edge = await startEdge(
    testConfig({
      clientIp,
      geoip: {
        database: countryTestDatabase,
        overrides: [{ cidr: '90.0.0.0/8', country: 'FR' }, ...frenchLoopback],
      },
      sites: [
        {
          name: 'pirates',
          hosts: ['motogpstream.me', '*.livetv.me', 'fine.example'],
          origin: origin.url,
          preserveHost: true,
        },
      ],
      policy: { files: ['policy.yaml'] },
    }),
    { 'policy.yaml': { orders: [order] } },
  );
  return { edge, origin };
}

/** Every status line in a raw response stream, in order (pipelined answers follow each other's bodies). */
function statusesOf(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((match) => Number(match[1]));
}

/** A raw GET with the given header lines, closing the connection after the answer. */
function rawGet(target: string, lines: string[], version = '1.1'): string {
  return `GET ${target} HTTP/${version}\r\n${lines.map((line) => `${line}\r\n`).join('')}Connection: close\r\n\r\n`;
}

/** What the reflecting origin saw for each request, as [url, Host, X-Forwarded-Host]. */
function seenByOrigin(origin: TestOrigin): Array<[string, unknown, unknown]> {
  return origin.requests.map((seen) => [seen.url, seen.headers.host, seen.headers['x-forwarded-host']]);
}

describe('Host header spellings', () => {
  it('every spelling of a blocked host is 451 or refused, and none reaches the origin', async () => {
    const { edge, origin } = await startWorld();
    const attempts: Array<[string, number]> = [
      ['motogpstream.me:', 451], // empty port (RFC 3986 allows it)
      ['motogpstream.me:0443', 451], // zero-padded port
      ['motogpstream.me:443', 451],
      ['MOTOGPSTREAM.ME.:80', 451],
      ['motogpstream.me\t', 451], // trailing OWS is not part of the value
      ['x.LIVETV.me.', 451], // wildcard order, odd case and trailing dot
      ['motogpstream.me..', 400], // two trailing dots: an empty label
      ['motogpstream.me:65536', 400],
      ['motogpstream.me:80:80', 400],
      ['a@motogpstream.me', 400], // userinfo
      ['motogpstream%2eme', 400], // percent-encoding
      ['motogpstream.me/x', 400],
      ['motogpstream.me\\', 400],
      [`${'a'.repeat(64)}.livetv.me`, 400], // a 64-octet label
      ['xn--motogpstream-.me', 421], // an "A-label" of ASCII is another name, not motogpstream.me
      ['[::1]', 421],
    ];
    for (const [host, expected] of attempts) {
      const raw = await sendRaw(edge.url, rawGet('/', [`Host: ${host}`, `X-Forwarded-For: ${FR}`]));
      expect({ host, status: statusOf(raw) }).toEqual({ host, status: expected });
    }
    expect(origin.requests).toHaveLength(0);
  });
});

describe('request target against Host', () => {
  it('a target naming the blocked host wins over an allowed Host, and odd targets are refused', async () => {
    const { edge, origin } = await startWorld();
    const attempts: Array<[string, string, number]> = [
      ['HTTPS://MotoGPStream.ME.:443/a', 'fine.example', 451], // scheme and host case, dot, port
      ['http://motogpstream.me', 'fine.example', 451], // no path at all
      ['http://x.livetv.me?q=1', 'fine.example', 451],
      ['//fine.example/a', 'motogpstream.me', 451], // a path that looks like an authority is a path
      ['ftp://motogpstream.me/a', 'fine.example', 400],
      ['ws://motogpstream.me/a', 'fine.example', 400],
      ['http:/motogpstream.me/a', 'fine.example', 400],
      ['http://fine.example@motogpstream.me/a', 'fine.example', 400], // userinfo in the target
      ['http://fine.example#@motogpstream.me/a', 'fine.example', 400],
      ['http://fine.example\\@motogpstream.me/a', 'fine.example', 400],
    ];
    for (const [target, host, expected] of attempts) {
      const raw = await sendRaw(edge.url, rawGet(target, [`Host: ${host}`, `X-Forwarded-For: ${FR}`]));
      expect({ target, status: statusOf(raw) }).toEqual({ target, status: expected });
    }
    expect(origin.requests).toHaveLength(0);
  });

  it('an allowed target with a blocked Host reaches the origin as the allowed host only', async () => {
    const { edge, origin } = await startWorld();
    const absolute = await sendRaw(
      edge.url,
      rawGet('http://fine.example/a', ['Host: motogpstream.me', `X-Forwarded-For: ${FR}`]),
    );
    expect(statusOf(absolute)).toBe(200);
    const networkPath = await sendRaw(
      edge.url,
      rawGet('//motogpstream.me/b', ['Host: fine.example', `X-Forwarded-For: ${FR}`]),
    );
    expect(statusOf(networkPath)).toBe(200);
    // Neither Host nor X-Forwarded-Host carries the blocked name to an origin that serves both sites.
    expect(seenByOrigin(origin)).toEqual([
      ['/a', 'fine.example', 'fine.example'],
      ['//motogpstream.me/b', 'fine.example', 'fine.example'],
    ]);
  });

  it('HTTP/1.0: no authority at all is 400; a blocked one in the target or in Host is 451', async () => {
    const { edge, origin } = await startWorld();
    const noHost = await sendRaw(edge.url, rawGet('/', [`X-Forwarded-For: ${FR}`], '1.0'));
    expect(statusOf(noHost)).toBe(400);
    const absolute = await sendRaw(
      edge.url,
      rawGet('http://motogpstream.me/', [`X-Forwarded-For: ${FR}`], '1.0'),
    );
    expect(statusOf(absolute)).toBe(451);
    const withHost = await sendRaw(
      edge.url,
      rawGet('/', ['Host: motogpstream.me', `X-Forwarded-For: ${FR}`], '1.0'),
    );
    expect(statusOf(withHost)).toBe(451);
    expect(origin.requests).toHaveLength(0);
  });
});

describe('one connection, several requests', () => {
  it('requests pipelined after an allowed one on the same connection are each decided', async () => {
    const { edge, origin } = await startWorld();
    const xff = `X-Forwarded-For: ${FR}\r\n`;
    const raw = await sendRaw(
      edge.url,
      `GET /one HTTP/1.1\r\nHost: fine.example\r\n${xff}\r\n` +
        `GET /two HTTP/1.1\r\nHost: motogpstream.me\r\n${xff}\r\n` +
        `GET /three HTTP/1.1\r\nHost: MOTOGPSTREAM.ME.\r\n${xff}\r\n` +
        `GET /four HTTP/1.1\r\nHost: x.livetv.me:80\r\n${xff}Connection: close\r\n\r\n`,
    );
    expect(statusesOf(raw)).toEqual([200, 451, 451, 451]);
    expect(origin.requests.map((seen) => seen.url)).toEqual(['/one']);
  });

  it('the body of a request answered 451 is discarded, never parsed as a request of its own', async () => {
    const { edge, origin } = await startWorld();
    // The body is a request a front proxy never saw, claiming a US client: if the edge read it as a
    // request, the trusted-proxy walk would believe it.
    const smuggled = `GET /smuggled HTTP/1.1\r\nHost: motogpstream.me\r\nX-Forwarded-For: ${US}\r\n\r\n`;
    const raw = await sendRaw(
      edge.url,
      `POST /form HTTP/1.1\r\nHost: motogpstream.me\r\nX-Forwarded-For: ${FR}\r\n` +
        `Content-Length: ${smuggled.length}\r\n\r\n${smuggled}` +
        `GET /after HTTP/1.1\r\nHost: fine.example\r\nX-Forwarded-For: ${FR}\r\nConnection: close\r\n\r\n`,
    );
    expect(statusesOf(raw)).toEqual([451, 200]);
    expect(origin.requests.map((seen) => seen.url)).toEqual(['/after']);
  });

  it('Expect: 100-continue is answered only once the request passed the gate: a blocked client never uploads', async () => {
    const { edge, origin } = await startWorld();
    const expecting = (host: string) =>
      `POST /upload HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-For: ${FR}\r\nExpect: 100-continue\r\n` +
      'Content-Length: 5\r\nConnection: close\r\n\r\n';
    // The client sends headers only and waits: the 451 comes without a 100 Continue before it.
    const blocked = await sendRaw(edge.url, expecting('motogpstream.me'), 2_000);
    expect(statusesOf(blocked)).toEqual([451]);
    expect(blocked).not.toContain('100 Continue');
    // An allowed request is told to go on, then its body reaches the origin.
    const socket = connect(Number(new URL(edge.url).port), '127.0.0.1');
    let raw = '';
    let sent = false;
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (raw.startsWith('HTTP/1.1 100 Continue') && !sent) {
        sent = true;
        socket.write('hello');
      }
    });
    socket.write(expecting('fine.example'));
    await new Promise((resolve) => socket.once('close', resolve));
    expect(statusesOf(raw)).toEqual([100, 200]);
    expect(origin.requests.map((seen) => seen.url)).toEqual(['/upload']);
  });

  it('request smuggling shapes are one 400, and the request hidden behind them never runs', async () => {
    const { edge, origin } = await startWorld();
    const smuggled = `GET /smuggled HTTP/1.1\r\nHost: motogpstream.me\r\nX-Forwarded-For: ${US}\r\n\r\n`;
    const start = `POST /p HTTP/1.1\r\nHost: fine.example\r\nX-Forwarded-For: ${FR}\r\n`;
    const shapes: Array<[string, string]> = [
      [
        'Content-Length and Transfer-Encoding',
        `${start}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ],
      [
        'chunked then identity',
        `${start}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`,
      ],
      ['an unknown coding', `${start}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`],
      ['two Content-Lengths', `${start}Content-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n`],
      ['obs-fold of Host', 'GET / HTTP/1.1\r\nHost: fine.example\r\n motogpstream.me\r\n\r\n'],
      [
        'obs-fold of X-Forwarded-For',
        `GET / HTTP/1.1\r\nHost: fine.example\r\nX-Forwarded-For: ${US}\r\n ${FR}\r\n\r\n`,
      ],
      ['bare LF line ends', `GET / HTTP/1.1\nHost: motogpstream.me\nX-Forwarded-For: ${US}\n\n`],
      ['space before the colon', `GET / HTTP/1.1\r\nHost : motogpstream.me\r\nHost: fine.example\r\n\r\n`],
    ];
    for (const [shape, request] of shapes) {
      const raw = await sendRaw(edge.url, `${request}${smuggled}`);
      expect({ shape, statuses: statusesOf(raw) }).toEqual({ shape, statuses: [400] });
    }
    expect(origin.requests).toHaveLength(0);
  });
});

describe('upgrades', () => {
  const websocket = [
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  ];

  it('an upgrade for a blocked host is 451 however it names the host, and before the 501 for non-WebSocket', async () => {
    const { edge, origin } = await startWorld();
    const attempts: Array<[string, string[], number]> = [
      ['absolute-form target', ['GET http://motogpstream.me/ws', 'Host: fine.example', ...websocket], 451],
      ['spelled Host', ['GET /ws', 'Host: MotoGPStream.ME.:80', ...websocket], 451],
      ['two Host headers', ['GET /ws', 'Host: fine.example', 'Host: motogpstream.me', ...websocket], 400],
      [
        'h2c',
        ['GET /ws', 'Host: motogpstream.me', 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c'],
        451,
      ],
    ];
    for (const [name, [requestLine, ...lines], expected] of attempts) {
      const request = `${requestLine} HTTP/1.1\r\n${[...lines, `X-Forwarded-For: ${FR}`].join('\r\n')}\r\n\r\n`;
      const raw = await sendRaw(edge.url, request);
      expect({ name, status: statusOf(raw) }).toEqual({ name, status: expected });
    }
    expect(origin.requests).toHaveLength(0);
  });

  it('a request pipelined behind an upgrade the origin declines never reaches the origin', async () => {
    const { edge, origin } = await startWorld();
    const upgrade = `GET /ws HTTP/1.1\r\nHost: fine.example\r\nX-Forwarded-For: ${FR}\r\n${websocket.join('\r\n')}\r\n\r\n`;
    const smuggled = `GET /smuggled HTTP/1.1\r\nHost: motogpstream.me\r\nX-Forwarded-For: ${US}\r\n\r\n`;
    const raw = await sendRaw(edge.url, `${upgrade}${smuggled}`, 2_000);
    expect(statusesOf(raw)).toEqual([200]);
    expect(origin.requests.map((seen) => seen.url)).toEqual(['/ws']);
  });
});

describe('client identity from an untrusted peer', () => {
  const claims = [
    `X-Forwarded-For: ${US}`,
    `X-Forwarded-For: ${US}`,
    `Forwarded: for=${US};host=fine.example;proto=https`,
    `X-Real-IP: ${US}`,
    `True-Client-IP: ${US}`,
    `CF-Connecting-IP: ${US}`,
    `Client-IP: ${US}`,
    'X-Forwarded-Host: fine.example',
  ];

  it.each([
    ['x-forwarded-for', untrustedFrenchLoopback],
    ['forwarded', { ...untrustedFrenchLoopback, source: 'forwarded' }],
  ])('with source %s, no claim of the client places it elsewhere', async (_source, clientIp) => {
    const { edge, origin } = await startWorld(clientIp);
    expect(statusOf(await sendRaw(edge.url, rawGet('/', ['Host: motogpstream.me', ...claims])))).toBe(451);
    // A PROXY protocol line on a listener that does not expect one is a malformed request, not an address.
    const proxyLine = `PROXY TCP4 ${US} 127.0.0.1 4711 80\r\n${rawGet('/', ['Host: motogpstream.me'])}`;
    expect(statusOf(await sendRaw(edge.url, proxyLine))).toBe(400);
    expect(origin.requests).toHaveLength(0);

    // On an allowed host, the claims are replaced by what the edge saw.
    expect(statusOf(await sendRaw(edge.url, rawGet('/', ['Host: fine.example', ...claims])))).toBe(200);
    const seen = origin.requests[0]?.headers;
    expect(seen?.['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen?.['x-forwarded-host']).toBe('fine.example');
    expect(seen?.['x-forwarded-proto']).toBe('http');
    expect(seen?.forwarded).toBeUndefined();
    expect(claimsSeen(seen)).toEqual([]);
  });

  it('no other claim about the client or its URL reaches the origin, on a request the cache does not handle', async () => {
    const { edge, origin } = await startWorld(untrustedFrenchLoopback);
    const post = await send(`${edge.url}/form`, {
      method: 'POST',
      headers: { host: 'fine.example', ...otherClaims },
      body: 'a=1',
    });
    expect(post.status).toBe(200);
    expect(claimsSeen(origin.requests[0]?.headers)).toEqual([]);
  });
});

describe('claims from the trusted proxy', () => {
  it('reach the origin as the proxy sent them', async () => {
    const { edge, origin } = await startWorld();
    const post = await send(`${edge.url}/form`, {
      method: 'POST',
      headers: { host: 'fine.example', 'x-forwarded-for': GB, ...otherClaims },
      body: 'a=1',
    });
    expect(post.status).toBe(200);
    expect(claimsSeen(origin.requests[0]?.headers)).toEqual(Object.keys(otherClaims));
  });
});

/** Address, scheme, port and prefix claims besides the four forwarding headers the edge rebuilds. */
const otherClaims = {
  'x-forwarded-port': '443',
  'x-forwarded-prefix': '/internal-admin',
  'x-forwarded-ssl': 'on',
  'x-forwarded-server': 'trusted-lb',
  'x-forwarded-scheme': 'https',
  'x-real-ip': US,
  'true-client-ip': US,
  'cf-connecting-ip': US,
  'client-ip': US,
};

function claimsSeen(headers: IncomingMessage['headers'] | undefined): string[] {
  return Object.keys(otherClaims).filter((name) => headers?.[name] !== undefined);
}

describe('client identity behind the trusted proxy', () => {
  it("however the proxy spells a French client, and whatever the client wrote left of it, it's 451", async () => {
    const { edge, origin } = await startWorld();
    const chains: string[][] = [
      [`::ffff:${FR4}`], // IPv4-mapped, as a dual-stack proxy writes its peer
      ['::ffff:5a00:1'], // the same address in hex
      ['[2A02:CFC0:0:0:0:0:0:1]:443'], // expanded, upper case, bracketed, with a port
      [`${FR4}:4711`],
      [`${US}, ::FFFF:${FR4}`], // a spoofed US address left of the proxy's
      [`"${US}, ${FR4}`], // a quote cannot swallow the proxy's entry in X-Forwarded-For
      [`${US}`, `${FR}`], // the proxy's own header line after the client's
      ['unknown, _hidden, 999.1.1.1', `${FR4}`],
    ];
    for (const chain of chains) {
      const lines = chain.map((value) => `X-Forwarded-For: ${value}`);
      const raw = await sendRaw(edge.url, rawGet('/', ['Host: motogpstream.me', ...lines]));
      expect({ chain, status: statusOf(raw) }).toEqual({ chain, status: 451 });
    }
    expect(origin.requests).toHaveLength(0);
  });

  it("with source forwarded, the client's garbage in its own element or line does not hide the proxy's", async () => {
    const { edge, origin } = await startWorld(trustedLoopbackForwarded);
    const headers: string[][] = [
      ['Forwarded: for="garbage', `Forwarded: for="[${FR}]"`], // unterminated quote, own line
      [`Forwarded: for=garbage!!, for="[${FR}]"`],
      [`Forwarded: for=_hidden;proto=https, For="[${FR}]:_p1"`],
      [`Forwarded: for=${US};by=x;for=${US}, for=${FR4}`], // two for= in the client's element
    ];
    for (const lines of headers) {
      const raw = await sendRaw(edge.url, rawGet('/', ['Host: motogpstream.me', ...lines]));
      expect({ lines, status: statusOf(raw) }).toEqual({ lines, status: 451 });
    }
    expect(origin.requests).toHaveLength(0);
  });
});

describe('a cached answer and the blocked client', () => {
  it('no method or precondition shape reaches the entry an allowed client filled, nor evicts it', async () => {
    const { edge, origin } = await startWorld();
    const filled = await send(`${edge.url}/live`, {
      headers: { host: 'motogpstream.me', 'x-forwarded-for': GB },
    });
    expect(filled.status).toBe(200);

    const fromFrance = `X-Forwarded-For: ${FR}`;
    const attempts: string[] = [
      rawGet('/live', ['Host: motogpstream.me', fromFrance, 'Range: bytes=0-3']),
      rawGet('/live', ['Host: motogpstream.me', fromFrance, 'If-Match: *']),
      rawGet('/live', [
        'Host: motogpstream.me',
        fromFrance,
        'If-Unmodified-Since: Thu, 01 Jan 2099 00:00:00 GMT',
      ]),
      rawGet('/live', ['Host: motogpstream.me', fromFrance, 'Cache-Control: only-if-cached']),
      rawGet('http://motogpstream.me/live', ['Host: fine.example', fromFrance]),
      `POST /live HTTP/1.1\r\nHost: motogpstream.me\r\n${fromFrance}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`,
      `DELETE /live HTTP/1.1\r\nHost: motogpstream.me\r\n${fromFrance}\r\nConnection: close\r\n\r\n`,
      `OPTIONS /live HTTP/1.1\r\nHost: motogpstream.me\r\n${fromFrance}\r\nConnection: close\r\n\r\n`,
      `OPTIONS * HTTP/1.1\r\nHost: motogpstream.me\r\n${fromFrance}\r\nConnection: close\r\n\r\n`,
    ];
    for (const request of attempts) {
      const raw = await sendRaw(edge.url, request);
      const requestLine = request.slice(0, request.indexOf('\r\n'));
      expect({ requestLine, status: statusOf(raw) }).toEqual({ requestLine, status: 451 });
      expect(raw).not.toContain('"url":"/live"');
    }
    // The unsafe methods were never forwarded, so they invalidated nothing: still a hit, one origin request.
    const again = await send(`${edge.url}/live`, {
      headers: { host: 'motogpstream.me', 'x-forwarded-for': GB },
    });
    expect(again.headers['cache-status']).toMatch(/^edge451; hit/);
    expect(origin.requests).toHaveLength(1);
  });
});

describe('hostile sizes and broken framing', () => {
  it('an over-long target or header is a 4xx, a broken chunked body a 400, and the node keeps deciding', async () => {
    const { edge } = await startWorld();
    const longTarget = await sendRaw(edge.url, rawGet(`/${'a'.repeat(17_000)}`, ['Host: motogpstream.me']));
    expect(statusOf(longTarget)).toBe(431);
    const longHeader = await sendRaw(
      edge.url,
      rawGet('/', ['Host: fine.example', `X-Big: ${'a'.repeat(17_000)}`]),
    );
    expect(statusOf(longHeader)).toBe(431);
    const longHost = await sendRaw(edge.url, rawGet('/', [`Host: ${'a.'.repeat(5_000)}livetv.me`]));
    expect(statusOf(longHost)).toBe(400);
    const brokenChunk = await sendRaw(
      edge.url,
      'POST /c HTTP/1.1\r\nHost: fine.example\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nzz\r\nxx\r\n',
    );
    expect(statusOf(brokenChunk)).toBe(400);
    // The client broke its body: not an origin failure, in the log or in the metrics.
    const logged = await edge.waitForLog((line) => line.path === '/c');
    expect(logged).toMatchObject({ outcome: 'rejected', error_code: 'EDGE_BAD_REQUEST' });
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.body).not.toMatch(/^edge451_origin_errors_total\{/m);

    expect(edge.process.exitCode).toBeNull();
    const allowed = await send(`${edge.url}/still`, {
      headers: { host: 'fine.example', 'x-forwarded-for': FR },
    });
    expect(allowed.status).toBe(200);
    const blocked = await send(`${edge.url}/still`, {
      headers: { host: 'motogpstream.me', 'x-forwarded-for': FR },
    });
    expect(blocked.status).toBe(451);
  });
});

describe('TLS: one connection, several hosts (DECISIONS #16)', () => {
  const fixtures = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
  const pairOf = (name: string) => ({
    cert: join(fixtures, `${name}.pem`),
    key: join(fixtures, `${name}-key.pem`),
  });

  it('requests kept alive on a connection made for an allowed site are each decided, 451 before 421', async () => {
    const origin = await startOrigin(reflect);
    const edge = await startEdge(
      testConfig({
        listen: [{ host: '127.0.0.1', port: 0, tls: pairOf('listener-default') }],
        clientIp: trustedLoopback,
        sites: [
          { name: 'shop', hosts: ['shop.example'], origin: origin.url, tls: pairOf('shop-rsa') },
          { name: 'pirates', hosts: ['motogpstream.me'], origin: origin.url },
        ],
        policy: { files: ['policy.yaml'] },
      }),
      { 'policy.yaml': { orders: [order] } },
    );
    const port = Number(new URL(edge.url).port);
    const request = (path: string, host: string, ip: string, close = false) =>
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-For: ${ip}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connectTls({
        host: '127.0.0.1',
        port,
        servername: 'shop.example',
        ca: readFileSync(join(fixtures, 'ca.pem')),
      });
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      socket.once('secureConnect', () =>
        socket.write(
          request('/1', 'shop.example', FR) +
            request('/2', 'motogpstream.me', FR) +
            request('/3', 'MotoGPStream.me.:443', FR) +
            request('/4', 'motogpstream.me', GB) +
            request('/5', 'shop.example', GB, true),
        ),
      );
      socket.once('close', () => resolve(text));
      socket.once('error', reject);
    });
    expect(statusesOf(raw)).toEqual([200, 451, 451, 421, 200]);
    expect(origin.requests.map((seen) => seen.url)).toEqual(['/1', '/5']);
  });
});

describe("what the client writes before the trusted proxy's forwarding entry", () => {
  it('Forwarded: an unterminated quote in the client part does not swallow the element the proxy appended', async () => {
    const { edge, origin } = await startWorld(trustedLoopbackForwarded);
    // The client sends `Forwarded: for="…`; the trusted proxy appends its element to the same line
    // (RFC 7239 §4, as the edge itself does). Read from the left, the proxy's element became the rest of
    // the client's quoted string, the hop was malformed, and the edge fell back to the peer: the proxy,
    // whose country is unknown (unknownCountry: allow), so the request was served.
    const lines = [
      `Forwarded: for="${US}, for="[${FR}]"`,
      `Forwarded: for="x, for=${FR4}`,
      `Forwarded: for="\\, for=${FR4}`,
    ];
    for (const line of lines) {
      const raw = await sendRaw(edge.url, rawGet('/', ['Host: motogpstream.me', line]));
      expect({ line, status: statusOf(raw) }).toEqual({ line, status: 451 });
    }
    expect(origin.requests).toHaveLength(0);
  });

  it("X-Forwarded-For: 1,100 header lines before it do not push the proxy's header out of what the edge reads", async () => {
    const { edge, origin } = await startWorld();
    // A proxy that adds its X-Forwarded-For line after the client's headers (Go's ReverseProxy writes header
    // names in sorted order, `A` before `X-Forwarded-For`; HAProxy's option forwardfor appends) passes this
    // on. node:http reads only the first 1,000 header lines by default, so the edge never saw the client's
    // address and fell back to the peer, the proxy, whose country is unknown. Both requests are 6.6 KiB of
    // headers, far below the 16 KiB limit.
    const withFiller = (count: number) =>
      rawGet('/', [
        'Host: motogpstream.me',
        ...Array.from({ length: count }, () => 'A: b'),
        `X-Forwarded-For: ${FR}`,
      ]);
    expect(statusOf(await sendRaw(edge.url, withFiller(900)))).toBe(451);
    expect(statusOf(await sendRaw(edge.url, withFiller(1_100)))).toBe(451);
    expect(origin.requests).toHaveLength(0);
  });
});

describe('cache poisoning with content on a GET', () => {
  it('a GET with a body is forwarded with it but its answer is not stored under the body-less key', async () => {
    const { edge } = await startWorld();
    const attacks: Array<[string, string]> = [
      ['/fat-length', 'Content-Length: 4\r\n\r\nevil'],
      ['/fat-chunked', 'Transfer-Encoding: chunked\r\n\r\n4\r\nevil\r\n0\r\n\r\n'],
    ];
    for (const [path, framing] of attacks) {
      const attacker = `GET ${path} HTTP/1.1\r\nHost: fine.example\r\nX-Forwarded-For: ${GB}\r\nConnection: close\r\n${framing}`;
      expect(statusOf(await sendRaw(edge.url, attacker))).toBe(200);
      // The next client asks cleanly and must get what a clean request makes the origin say.
      const victim = await send(`${edge.url}${path}`, {
        headers: { host: 'fine.example', 'x-forwarded-for': US },
      });
      expect(victim.status).toBe(200);
      expect({ path, body: JSON.parse(victim.body).body }).toEqual({ path, body: '' });
    }
  });
});

describe('the asterisk-form target', () => {
  it('GET * is a 400 and OPTIONS * for an allowed host a 501, never an internal error', async () => {
    const { edge, origin } = await startWorld();
    const get = await sendRaw(edge.url, rawGet('*', ['Host: fine.example']));
    expect(statusOf(get)).toBe(400);
    const options = await sendRaw(
      edge.url,
      'OPTIONS * HTTP/1.1\r\nHost: fine.example\r\nConnection: close\r\n\r\n',
    );
    expect(statusOf(options)).toBe(501);
    expect(options).toContain('OPTIONS * is not forwarded to origins.');
    expect(origin.requests).toHaveLength(0);
  });
});
