import { Client } from 'undici';
import { onTestFinished } from 'vitest';
import { adminToken, type RunningEdge } from './edge.js';
import type { SimpleResponse } from './http.js';

// Helpers for `workers: N` end-to-end tests. node:cluster hands each new connection to a worker (round-robin
// on Linux), so a test reaches every worker only by opening a new connection per request; a keep-alive pool
// would pin every request to one worker and prove nothing.

/**
 * One request on a connection of its own, closed afterwards, so the primary hands it to the next worker.
 * `headers.host` is sent as given.
 */
export async function sendOnNewConnection(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<SimpleResponse> {
  const target = new URL(url);
  const client = new Client(target.origin, { pipelining: 0 });
  try {
    const response = await client.request({
      method: (options.method ?? 'GET') as 'GET',
      path: `${target.pathname}${target.search}`,
      headers: options.headers,
      body: options.body,
    });
    return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
  } finally {
    await client.destroy();
  }
}

/** What a client learns from one GET / on a new connection: the status, and for a 451 its request id. */
export type Answer = { status: number; requestId: string | undefined };

/**
 * GET / for `host` as a client at `ip` (behind the trusted loopback proxy), on a new connection, asking for
 * the JSON 451 body: its request id names the worker that answered (see {@link workerOf}).
 */
export async function answerThroughEdge(edgeUrl: string, host: string, ip: string): Promise<Answer> {
  const response = await sendOnNewConnection(`${edgeUrl}/`, {
    headers: { host, 'x-forwarded-for': ip, accept: 'application/json' },
  });
  if (response.status !== 451) return { status: response.status, requestId: undefined };
  return { status: 451, requestId: (JSON.parse(response.body) as { requestId: string }).requestId };
}

/** The worker a request id came from: ids are `<per-process random prefix>-<counter>`. */
export function workerOf(requestId: string): string {
  return requestId.slice(0, requestId.lastIndexOf('-'));
}

/** The pid of the process that served `requestId`, read from its request log line (they carry `pid`). */
export async function pidOf(edge: RunningEdge, requestId: string): Promise<number> {
  const line = await edge.waitForLog((entry) => entry.request_id === requestId);
  return Number(line.pid);
}

/**
 * Sends blocked requests on new connections until `count` distinct processes have answered; their pids by
 * request-id prefix. Throws after `maxRequests` (a worker that never serves is what a test must catch).
 */
export async function discoverWorkers(
  edge: RunningEdge,
  blocked: { host: string; ip: string },
  count: number,
  maxRequests = 20 * count,
): Promise<Map<string, number>> {
  const workers = new Map<string, number>();
  for (let sent = 0; sent < maxRequests && workers.size < count; sent += 1) {
    const answer = await answerThroughEdge(edge.url, blocked.host, blocked.ip);
    if (answer.requestId === undefined)
      throw new Error(`expected 451 for ${blocked.host}, got ${answer.status}`);
    const worker = workerOf(answer.requestId);
    if (!workers.has(worker)) workers.set(worker, await pidOf(edge, answer.requestId));
  }
  if (workers.size < count)
    throw new Error(`only ${workers.size} of ${count} workers answered ${maxRequests} new connections`);
  return workers;
}

/** One authenticated admin request with a JSON body; the status and the parsed answer. */
export async function callAdmin<T>(
  edge: RunningEdge,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await sendOnNewConnection(`${edge.adminUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: JSON.parse(response.body) as T };
}

/**
 * The value of one sample in Prometheus exposition text, e.g. `edge451_requests_total{outcome="blocked"}`;
 * undefined when the sample is absent.
 */
export function sampleValue(text: string, sample: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}

/** The sum of every sample of metric `name` in Prometheus exposition text, whatever its labels. */
export function sampleSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Stops `pid` with SIGSTOP (what a hung process looks like from outside: alive, answering nothing) and
 * lets it run again when the test ends, if it is still there.
 */
export function stopUntilTestEnds(pid: number): void {
  process.kill(pid, 'SIGSTOP');
  onTestFinished(() => {
    if (isRunning(pid)) process.kill(pid, 'SIGCONT');
  });
}

/** Polls `check` every 20 ms until it holds; throws with `what` after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
