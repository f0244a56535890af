import { type Agent, request } from 'node:http';
import { createServer } from 'node:net';

/** One request of a scenario: what a client sends, whatever the candidate. */
export type RequestShape = {
  path: string;
  /** Sent as the `Host` header (capitalised: wrk doubles a lower-case one). */
  host: string;
  headers?: Record<string, string>;
  method?: 'GET' | 'POST';
  body?: string;
};

/** The node:http request options of one shape sent to `url` (the shape's path, method, Host and headers). */
export function shapeRequestOptions(url: URL, shape: RequestShape, agent: Agent | false, timeoutMs: number) {
  return {
    host: url.hostname,
    port: url.port,
    path: shape.path,
    method: shape.method ?? 'GET',
    headers: { Host: shape.host, ...shape.headers },
    agent,
    timeout: timeoutMs,
  };
}

export type ProbeResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
};

/**
 * Sends one request to `baseUrl` (loopback) and buffers the answer. Rejects on socket errors and after
 * `timeoutMs` (default 10 s), so no probe loop can hang. Pass an `agent` to reuse connections; without one
 * every probe opens its own (which spreads probes over a cluster's workers).
 */
export function probe(
  baseUrl: string,
  shape: RequestShape,
  options: { agent?: Agent; timeoutMs?: number } = {},
): Promise<ProbeResponse> {
  const url = new URL(shape.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      shapeRequestOptions(url, shape, options.agent ?? false, options.timeoutMs ?? 10_000),
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within the timeout`)));
    req.on('error', reject);
    req.end(shape.body);
  });
}

/**
 * Polls `check` every `intervalMs` until it resolves true; resolves with the milliseconds it took, rejects
 * after `timeoutMs`. A check that throws counts as "not yet" (a server still starting refuses connections).
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs, intervalMs }: { timeoutMs: number; intervalMs: number },
): Promise<number> {
  const started = performance.now();
  let lastError: unknown;
  while (performance.now() - started < timeoutMs) {
    try {
      if (await check()) return performance.now() - started;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`${what} did not happen within ${timeoutMs} ms${cause}`);
}

/**
 * A TCP port free on 127.0.0.1 right now. Used where a server must be told its port up front (the edge
 * logs its ready line at info, which benchmarks silence). Another process could take it before us; the
 * launch then fails loudly rather than measuring the wrong server.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
