import { connect } from 'node:net';
import { request } from 'undici';

export type SimpleResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
};

/** One request with undici; `headers.host` is sent as given, so tests can name any site. */
export async function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<SimpleResponse> {
  const response = await request(url, {
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers,
    body: options.body,
  });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

/**
 * Writes `text` byte for byte on a new TCP connection and returns everything read until the server closes
 * it (or `timeoutMs`). For requests no well-behaved client sends: duplicate Host, absolute-form, raw bytes.
 */
export async function sendRaw(url: string, text: string | Buffer, timeoutMs = 5_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(text);
  });
}

/** The status code of a raw HTTP/1.1 response text. */
export function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? Number.NaN);
}
