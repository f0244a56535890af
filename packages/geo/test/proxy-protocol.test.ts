import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Command,
  INETProtocol,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  Peer,
  TransportProtocol,
  V1ProxyProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import { describe, expect, onTestFinished, test } from 'vitest';
import { type ProxyHeaderResult, readProxyProtocolHeader } from '../src/index.js';

/**
 * The edge's connection path in miniature: a TCP server reads the PROXY header of each connection,
 * then hands the socket to a real node:http server that echoes what it parsed.
 */
async function startEdge(options: { trustedPeer: boolean; timeoutMs?: number }) {
  const results: ProxyHeaderResult[] = [];
  const http = createHttpServer((request, response) => {
    let bodyBytes = 0;
    request.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    request.on('end', () =>
      response.end(JSON.stringify({ method: request.method, url: request.url, bodyBytes })),
    );
  });
  const server = createServer(async (socket) => {
    const result = await readProxyProtocolHeader(socket, options);
    results.push(result);
    if (result.ok) http.emit('connection', socket);
    else socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as { port: number };
  return { port, results };
}

/** Connects, writes each part (pausing between them), and returns everything the server sent until it closed. */
async function exchange(port: number, parts: Array<string | Uint8Array>, pauseMs = 0): Promise<string> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('error', () => undefined);
  for (const part of parts) {
    if (socket.destroyed) break;
    socket.write(part);
    if (pauseMs > 0) await sleep(pauseMs);
  }
  await closed;
  return Buffer.concat(received).toString('latin1');
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n`;
const bodyOf = (response: string) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));

const v1 = (source: string, destination: string, protocol = INETProtocol.TCP4) =>
  new V1ProxyProtocol(protocol, new Peer(source, 51234), new Peer(destination, 443)).build();
const v2ipv6 = (source: number[], command = Command.PROXY) =>
  new V2ProxyProtocol(
    command,
    TransportProtocol.STREAM,
    new IPv6ProxyAddress(
      IPv6Address.createFrom(source),
      51234,
      IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 15, 1]),
      443,
    ),
  ).build();

describe('readProxyProtocolHeader from a trusted peer', () => {
  test('honours a v1 header and the HTTP request in the same packet reaches the parser', async () => {
    const edge = await startEdge({ trustedPeer: true });
    const response = await exchange(edge.port, [v1('203.0.113.7', '192.0.2.1') + get('/v1')]);
    expect(edge.results).toEqual([{ ok: true, sourceAddress: '203.0.113.7' }]);
    expect(response).toMatch(/^HTTP\/1.1 200 OK/);
    expect(bodyOf(response)).toEqual({ method: 'GET', url: '/v1', bodyBytes: 0 });
  });

  test('honours a v1 TCP6 header', async () => {
    const edge = await startEdge({ trustedPeer: true });
    await exchange(edge.port, [v1('2001:DB8::7', '2001:db8::1', INETProtocol.TCP6) + get('/')]);
    expect(edge.results).toEqual([{ ok: true, sourceAddress: '2001:db8::7' }]);
  });

  test('honours a v2 header with an IPv6 source and a mapped IPv4 source', async () => {
    const edge = await startEdge({ trustedPeer: true });
    const ipv6 = [0x2a, 0x02, 0xcf, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 90, 0, 0, 1];
    const responses = [
      await exchange(edge.port, [Buffer.concat([v2ipv6(ipv6), Buffer.from(get('/v6'))])]),
      await exchange(edge.port, [Buffer.concat([v2ipv6(mapped), Buffer.from(get('/mapped'))])]),
    ];
    expect(edge.results).toEqual([
      { ok: true, sourceAddress: '2a02:cfc0::1' },
      { ok: true, sourceAddress: '90.0.0.1' },
    ]);
    expect(responses.map((response) => bodyOf(response).url)).toEqual(['/v6', '/mapped']);
  });

  test('skips v2 TLVs by the header length, so they never reach the HTTP parser', async () => {
    const edge = await startEdge({ trustedPeer: true });
    const address = new IPv4ProxyAddress(
      IPv4Address.createFrom([198, 51, 100, 4]),
      1,
      IPv4Address.createFrom([192, 0, 2, 1]),
      443,
    );
    const header = Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, address).build());
    // PP2_TYPE_AUTHORITY (0x02) TLV, as AWS NLB and HAProxy send; the length field must cover it.
    const tlv = Buffer.from([0x02, 0x00, 0x0c, ...Buffer.from('example.test')]);
    header.writeUInt16BE(12 + tlv.length, 14);
    const response = await exchange(edge.port, [Buffer.concat([header, tlv, Buffer.from(get('/tlv'))])]);
    expect(edge.results).toEqual([{ ok: true, sourceAddress: '198.51.100.4' }]);
    expect(bodyOf(response).url).toBe('/tlv');
  });

  test('a v2 header with large TLVs arriving in pieces is read whole', async () => {
    const edge = await startEdge({ trustedPeer: true });
    const address = new IPv4ProxyAddress(
      IPv4Address.createFrom([198, 51, 100, 5]),
      1,
      IPv4Address.createFrom([192, 0, 2, 1]),
      443,
    );
    const header = Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, address).build());
    // PP2_TYPE_NOOP (0x04) padding TLV of 3000 bytes.
    const tlv = Buffer.concat([Buffer.from([0x04, 0x0b, 0xb8]), Buffer.alloc(3000, 0x5a)]);
    header.writeUInt16BE(12 + tlv.length, 14);
    const bytes = Buffer.concat([header, tlv, Buffer.from(get('/big-tlv'))]);
    const pieces = Array.from({ length: Math.ceil(bytes.length / 100) }, (_, index) =>
      bytes.subarray(index * 100, index * 100 + 100),
    );
    const response = await exchange(edge.port, pieces, 1);
    expect(edge.results).toEqual([{ ok: true, sourceAddress: '198.51.100.5' }]);
    expect(bodyOf(response).url).toBe('/big-tlv');
  });

  test('a v2 LOCAL header (health check) keeps the connection peer as the client', async () => {
    const edge = await startEdge({ trustedPeer: true });
    const response = await exchange(edge.port, [
      Buffer.concat([v2ipv6([], Command.LOCAL), Buffer.from(get('/health'))]),
    ]);
    expect(edge.results).toEqual([{ ok: true, sourceAddress: null }]);
    expect(bodyOf(response).url).toBe('/health');
  });

  test('a header split across packets is reassembled', async () => {
    const edge = await startEdge({ trustedPeer: true });
    const bytes = Buffer.from(v1('203.0.113.8', '192.0.2.1') + get('/split'));
    const parts = [...bytes.subarray(0, 30)].map((byte) => Buffer.from([byte]));
    const response = await exchange(edge.port, [...parts, bytes.subarray(30)], 2);
    expect(edge.results).toEqual([{ ok: true, sourceAddress: '203.0.113.8' }]);
    expect(bodyOf(response).url).toBe('/split');
  });

  test('every byte after the header reaches HTTP in order: pipelined requests and a large body', async () => {
    const edge = await startEdge({ trustedPeer: true });
    const body = Buffer.alloc(1_000_000, 'a');
    const post = `POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: ${body.length}\r\n\r\n`;
    const response = await exchange(edge.port, [v1('203.0.113.9', '192.0.2.1') + post, body, get('/after')]);
    const bodies = response.split('HTTP/1.1 200 OK').slice(1);
    expect(bodies).toHaveLength(2);
    expect(bodyOf(`HTTP/1.1 200 OK${bodies[0]}`)).toEqual({
      method: 'POST',
      url: '/upload',
      bodyBytes: 1_000_000,
    });
    expect(bodyOf(`HTTP/1.1 200 OK${bodies[1]}`).url).toBe('/after');
  });

  test.each([
    ['a v1 header with a bad address', 'PROXY TCP4 999.0.0.1 192.0.2.1 1 2\r\n', 'invalid-header'],
    ['a v1 TCP4 header carrying IPv6', 'PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n', 'invalid-header'],
    ['a v1 header with a port above 65535', 'PROXY TCP4 203.0.113.1 192.0.2.1 70000 2\r\n', 'invalid-header'],
    ['a v1 header longer than 107 bytes', `PROXY TCP4 ${'1'.repeat(120)}`, 'invalid-header'],
    [
      'a v2 header of an unknown version',
      Buffer.from('0d0a0d0a000d0a515549540a31110000', 'hex'),
      'invalid-header',
    ],
    ['plain HTTP with no header', get('/'), 'missing-header'],
  ])('refuses %s and closes the connection', async (_name, bytes, reason) => {
    const edge = await startEdge({ trustedPeer: true });
    const response = await exchange(edge.port, [bytes]);
    expect(response).toBe('');
    expect(edge.results).toEqual([expect.objectContaining({ ok: false, reason })]);
  });

  test('times out on a header that never completes', async () => {
    const edge = await startEdge({ trustedPeer: true, timeoutMs: 100 });
    const response = await exchange(edge.port, ['PROXY TCP4 203.0.113.1']);
    expect(response).toBe('');
    expect(edge.results).toEqual([{ ok: false, reason: 'timeout' }]);
  });

  test('reports a peer that hangs up mid-header', async () => {
    const edge = await startEdge({ trustedPeer: true });
    const socket = connect(edge.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.end('PROXY TCP4 203.0.113.1');
    await expect.poll(() => edge.results).toEqual([{ ok: false, reason: 'closed' }]);
  });
});

describe('readProxyProtocolHeader from an untrusted peer', () => {
  test.each([
    ['v1', v1('90.0.0.1', '192.0.2.1') + get('/')],
    ['v2', Buffer.concat([v2ipv6([0x2a, 0x02, 0xcf, 0xc0]), Buffer.from(get('/'))])],
  ])('never honours a %s header: the connection is refused', async (_version, bytes) => {
    const edge = await startEdge({ trustedPeer: false });
    const response = await exchange(edge.port, [bytes]);
    expect(response).toBe('');
    expect(edge.results).toEqual([{ ok: false, reason: 'untrusted-peer-sent-proxy-header' }]);
  });

  test('a signature sent one byte at a time is still recognised', async () => {
    const edge = await startEdge({ trustedPeer: false });
    const bytes = Buffer.from(v1('90.0.0.1', '192.0.2.1'));
    await exchange(
      edge.port,
      [...bytes].map((byte) => Buffer.from([byte])),
      2,
    );
    expect(edge.results).toEqual([{ ok: false, reason: 'untrusted-peer-sent-proxy-header' }]);
  });

  test('plain HTTP is served, with the peer as the client', async () => {
    const edge = await startEdge({ trustedPeer: false });
    const response = await exchange(edge.port, [get('/direct')]);
    expect(edge.results).toEqual([{ ok: true, sourceAddress: null }]);
    expect(bodyOf(response).url).toBe('/direct');
  });
});
