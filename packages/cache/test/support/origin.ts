import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

/** One request as the origin received it. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export type OriginHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** A real node:http origin on port 0 whose answers the test scripts, counting what reaches it. */
export interface ScriptedOrigin {
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Requests received so far, optionally for one path. */
  count(url?: string): number;
  /** Replaces how the origin answers from now on. */
  answer(handler: OriginHandler): void;
}

/** Starts an origin; it is closed (connections included) when the test finishes. */
export async function startOrigin(handler: OriginHandler): Promise<ScriptedOrigin> {
  let current = handler;
  const requests: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    Promise.resolve(current(request, response)).catch((error: unknown) => {
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    count: (url) =>
      url === undefined ? requests.length : requests.filter((request) => request.url === url).length,
    answer(next) {
      current = next;
    },
  };
}

/** A handler that answers every request with `status`, `headers` and `body`. */
export function respondWith(
  status: number,
  headers: Record<string, string | string[]>,
  body = '',
): OriginHandler {
  return (_request, response) => {
    response.writeHead(status, headers);
    response.end(body);
  };
}

/** A port on which nothing listens (an origin that is down). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
