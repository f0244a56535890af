import type { Readable } from 'node:stream';
import type { CacheReply, CacheRequest, ClientSignal, HeaderMap, HttpCache } from '@edge451/cache';
import { fetchFrom } from './fetch-origin.js';
import type { ScriptedOrigin } from './origin.js';

/** A request for `path` on example.com (the normalised host), with the client's `headers`. */
export function cacheRequest(
  path: string,
  headers: HeaderMap = {},
  method = 'GET',
  host = 'example.com',
): CacheRequest {
  return { method, host, path, headers: { host, ...headers } };
}

/** Reads a reply's whole body as text ('' for none). */
export async function bodyOf(reply: CacheReply): Promise<string> {
  if (reply.body === null) return '';
  if (Buffer.isBuffer(reply.body)) return reply.body.toString();
  const chunks: Buffer[] = [];
  for await (const chunk of reply.body as Readable) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString();
}

/** One request through the cache to `origin`, body read: what a client would get. */
export async function fetchThrough(
  cache: HttpCache,
  origin: Pick<ScriptedOrigin, 'port'>,
  request: CacheRequest,
  signal: ClientSignal = new AbortController().signal,
): Promise<CacheReply & { text: string }> {
  const reply = await cache.serve(request, fetchFrom(origin.port, request.path), signal);
  return { ...reply, text: await bodyOf(reply) };
}

/** A clock the test moves by hand (epoch ms), starting now. */
export function manualClock(start = Date.now()): (() => number) & { advance(seconds: number): void } {
  let now = start;
  return Object.assign(() => now, {
    advance(seconds: number) {
      now += seconds * 1000;
    },
  });
}

/**
 * Waits until `condition` holds: for work the test cannot await, such as a background refresh travelling
 * over real sockets. Polls every 5 ms, gives up after 5 s with `what` in the message.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}
