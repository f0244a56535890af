import { Agent, request as httpRequest } from 'node:http';
import type { CancelSignal, FetchOrigin, HeaderMap } from '@edge451/cache';
import { abortOnCancel } from './abort-on-cancel.js';

/** The error shape the edge's upstream rejects with. */
export interface OriginError extends Error {
  code: string;
  source: 'origin';
}

/**
 * A FetchOrigin over node:http to 127.0.0.1:`port` for `path`, as the edge's upstream phase would be:
 * sends the headers the cache hands it, honours the abort signal, rejects with `{ code, source: 'origin' }`.
 * `calls` counts how often the cache called it.
 */
export function fetchFrom(port: number, path: string): FetchOrigin & { calls: number } {
  const agent = agentFor(port);
  const fetchOrigin = Object.assign(
    (request: { headers: HeaderMap; method: string }, signal: CancelSignal) => {
      fetchOrigin.calls += 1;
      return new Promise<Awaited<ReturnType<FetchOrigin>>>((resolve, reject) => {
        const outgoing = httpRequest(
          {
            host: '127.0.0.1',
            port,
            path,
            method: request.method,
            headers: definedHeaders(request.headers),
            agent,
          },
          (response) =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response }),
        );
        outgoing.on('error', (cause: NodeJS.ErrnoException) => {
          const error = new Error(`origin 127.0.0.1:${port} failed: ${cause.message}`, {
            cause,
          }) as OriginError;
          error.code = cause.name === 'AbortError' ? 'EDGE_ABORTED' : 'EDGE_ORIGIN_UNREACHABLE';
          error.source = 'origin';
          reject(error);
        });
        abortOnCancel(outgoing, signal);
        outgoing.end();
      });
    },
    { calls: 0 },
  );
  return fetchOrigin;
}

/** One keep-alive agent per origin port, as the edge keeps one pool per origin. */
const agents = new Map<number, Agent>();

function agentFor(port: number): Agent {
  let agent = agents.get(port);
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true });
    agents.set(port, agent);
  }
  return agent;
}

function definedHeaders(headers: HeaderMap): Record<string, string | string[]> {
  const defined: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) defined[name] = value;
  }
  return defined;
}
