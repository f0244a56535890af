import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import { startOrigin, type TestOrigin } from './origin.js';

// A WebSocket-speaking origin (node:http `upgrade` events, RFC 6455 accept key) and a raw upgrade client,
// for the end-to-end tests of the edge's Upgrade path.

const wsGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC11B85';
export const wsKey = 'dGhlIHNhbXBsZSBub25jZQ==';

export type SeenUpgrade = { url: string; method: string; headers: IncomingMessage['headers'] };
export type WsOrigin = { origin: TestOrigin; upgrades: SeenUpgrade[]; sockets: Socket[]; received: Buffer[] };

/**
 * The test origin (plain requests answered by `handler`, else startOrigin's default), also answering
 * upgrades by path: `/silent…` never answers, `/refuse…` answers 426 and closes, anything else switches
 * protocols and echoes every byte. Upgraded sockets leave node:http's bookkeeping, so they are destroyed
 * when the test finishes (the origin could not close otherwise).
 */
export async function startWsOrigin(handler?: Parameters<typeof startOrigin>[0]): Promise<WsOrigin> {
  const origin = await startOrigin(handler);
  const upgrades: SeenUpgrade[] = [];
  const sockets: Socket[] = [];
  const received: Buffer[] = [];
  onTestFinished(() => {
    for (const socket of sockets) socket.destroy();
  });
  origin.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers });
    sockets.push(socket);
    socket.on('error', () => socket.destroy());
    // node:http servers allow half-open sockets: close our side when the edge closes its own.
    socket.on('end', () => socket.end());
    if (head.length > 0) received.push(head);
    socket.on('data', (data: Buffer) => received.push(data));
    if ((req.url ?? '').startsWith('/silent')) return;
    if ((req.url ?? '').startsWith('/refuse')) {
      socket.end('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope');
      return;
    }
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${wsGuid}`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on('data', (data: Buffer) => socket.write(data));
  });
  return { origin, upgrades, sockets, received };
}

/** A WebSocket handshake request, byte for byte. */
export function wsRequest(host: string, extra: string[] = [], target = '/ws', method = 'GET'): string {
  const lines = [
    `${method} ${target} HTTP/1.1`,
    `Host: ${host}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${wsKey}`,
    ...extra,
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export type Opened = { socket: Socket; first: string; elapsed: number };

/** Writes `text` on a new connection; the first bytes answered ('' when closed silently or after `timeoutMs`). */
export async function openUpgrade(url: string, text: string | Buffer, timeoutMs = 3_000): Promise<Opened> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  onTestFinished(() => void socket.destroy());
  socket.on('error', () => undefined);
  socket.write(text);
  return firstBytes(socket, timeoutMs);
}

/** The first bytes `socket` receives ('' when it closes first or after `timeoutMs`). */
export async function firstBytes(socket: Socket, timeoutMs: number): Promise<Opened> {
  const started = Date.now();
  const first = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve(''), timeoutMs);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk.toString('latin1'));
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('');
    });
  });
  return { socket, first, elapsed: Date.now() - started };
}

/** Writes `data` on an upgraded socket and waits for the echo (undefined when nothing comes back). */
export async function echoOf(socket: Socket, data: string, timeoutMs = 1_000): Promise<string | undefined> {
  if (socket.destroyed) return undefined;
  socket.write(data);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk.toString('latin1'));
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** Whether `socket` is closed within `timeoutMs`. */
export function closedWithin(socket: Socket, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
