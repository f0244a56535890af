import { once } from 'node:events';
import { type IncomingHttpHeaders, request } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { onTestFinished } from 'vitest';

// The bytes a raw client reads, and a strict reading of them as one HTTP/1.1 response: for answers the edge
// writes straight onto a socket (an upgrade's), where no HTTP client library would show what went wrong.

export type Exchanged = { bytes: Buffer; closed: boolean };

/** Writes `text` on a new connection; everything read until the server closes it or `timeoutMs` passes. */
export async function exchange(url: string, text: string, timeoutMs = 3_000): Promise<Exchanged> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  onTestFinished(() => void socket.destroy());
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(text);
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  return { bytes: Buffer.concat(chunks), closed };
}

export type ParsedResponse = {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** How the body's end is marked; `none` for a response that has no body (204, 304). */
  framing: 'content-length' | 'chunked' | 'close' | 'none';
};

/**
 * `bytes` read as exactly one HTTP/1.1 response, or a rejection saying why not. node:http's own parser
 * (llhttp) reads it first: the bytes are replayed from a local server to a node:http client, which refuses a
 * malformed message (a `Transfer-Encoding: chunked` header over unchunked bytes, a body short of its
 * `Content-Length`). The framing is then checked by hand, because a client stops reading where the message
 * ends: it must end exactly where the bytes do, with nothing after it.
 */
export async function parseResponse(bytes: Buffer): Promise<ParsedResponse> {
  const parsed = await parseWithNodeHttp(bytes);
  const headEnd = bytes.indexOf('\r\n\r\n');
  const rest = bytes.subarray(headEnd + 4);
  const { status, headers } = parsed;
  const framing: ParsedResponse['framing'] =
    status === 204 || status === 304 || (status >= 100 && status < 200)
      ? 'none'
      : headers['transfer-encoding'] !== undefined
        ? 'chunked'
        : headers['content-length'] !== undefined
          ? 'content-length'
          : 'close';
  const framed =
    framing === 'none'
      ? Buffer.alloc(0)
      : framing === 'chunked'
        ? dechunk(rest)
        : framing === 'content-length'
          ? rest.subarray(0, Number(headers['content-length']))
          : rest;
  if (framing === 'none' && rest.length > 0)
    throw new Error(`${rest.length} bytes after a bodyless response`);
  if (framing === 'content-length' && rest.length !== Number(headers['content-length'])) {
    throw new Error(`a body of ${rest.length} bytes under Content-Length: ${headers['content-length']}`);
  }
  if (!framed.equals(parsed.body)) throw new Error('the framed body is not the body node:http read');
  return { ...parsed, framing };
}

async function parseWithNodeHttp(bytes: Buffer): Promise<Omit<ParsedResponse, 'framing'>> {
  const replay = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(bytes));
  });
  replay.listen(0, '127.0.0.1');
  await once(replay, 'listening');
  try {
    const { port } = replay.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          if (!response.complete) reject(new Error('the body ended before its framing said it would'));
          else
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks),
            });
        });
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    replay.close();
  }
}

/** A chunked body decoded strictly: hexadecimal sizes, CRLF after each chunk, nothing after the last one. */
function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('a chunk size line without its end (no last chunk)');
    const sizeText = data.subarray(at, lineEnd).toString('latin1');
    if (!/^[0-9A-Fa-f]+$/.test(sizeText)) throw new Error(`not a chunk size: ${JSON.stringify(sizeText)}`);
    const size = Number.parseInt(sizeText, 16);
    at = lineEnd + 2;
    if (size === 0) {
      if (data.subarray(at).toString('latin1') !== '\r\n') throw new Error('bytes after the last chunk');
      return Buffer.concat(parts);
    }
    parts.push(data.subarray(at, at + size));
    at += size;
    if (data.subarray(at, at + 2).toString('latin1') !== '\r\n') throw new Error('a chunk without its CRLF');
    at += 2;
  }
}
