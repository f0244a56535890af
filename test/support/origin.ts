import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import type { Writable } from 'node:stream';
import { onTestFinished } from 'vitest';

export type RecordedRequest = {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
};

export type TestOrigin = {
  url: string;
  port: number;
  server: Server;
  /** Every request the origin received, in order: assert on what the edge forwarded. */
  requests: RecordedRequest[];
};

/**
 * A real node:http origin on a free port whose answers the test scripts. The default handler answers 200
 * with a small body naming the path. Closed when the test finishes.
 */
export async function startOrigin(
  handler: (req: IncomingMessage, res: ServerResponse) => void = (req, res) => {
    const body = `origin says hello to ${req.url}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  },
): Promise<TestOrigin> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
    });
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${port}`, port, server, requests };
}

/** A loopback port nothing listens on: connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Answers `size` bytes with backpressure (so the origin holds no more than its socket buffers). */
export function streamBytes(res: ServerResponse, size: number, headers: Record<string, string>): void {
  res.writeHead(200, { 'content-length': String(size), ...headers });
  writeBytes(res, size);
}

/**
 * Writes `size` bytes of `fill` to `stream` in chunks of `chunkSize`, waiting for 'drain' whenever it asks
 * to, then ends it: a body of any size that is never all in memory.
 */
export function writeBytes(stream: Writable, size: number, fill = 7, chunkSize = 64 * 1024): void {
  const chunk = Buffer.alloc(chunkSize, fill);
  let written = 0;
  const pump = () => {
    while (written < size) {
      const part = Math.min(chunk.length, size - written);
      written += part;
      if (!stream.write(part === chunk.length ? chunk : chunk.subarray(0, part)))
        return void stream.once('drain', pump);
    }
    stream.end();
  };
  pump();
}
