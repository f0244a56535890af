/**
 * Figures for @edge451/cache, in one process on one core, medians of several rounds. Prints, never fails.
 * Run: `pnpm --filter @edge451/cache bench` (pin it with `taskset -c 1` on a busy machine).
 * 1. Hit path: `serve()` answering a stored 1 KiB response, next to a bare `store.get()` of the same
 *    entry measured in the same run (what the RFC 9111 evaluation and reply assembly add).
 * 2. Coalescing storm: 1000 concurrent misses over 20 URLs against a real origin with 20 ms latency.
 * 3. Coalescing trap: concurrent requests to an uncacheable (no-store) URL, latency through the cache next
 *    to calling the origin directly in the same run: a ratio near 1 means nothing queues behind anything.
 *    Steady state: one request goes first, so the cache has seen the URL's answer once.
 */
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import {
  type CacheReply,
  createHttpCache,
  createMemoryStore,
  type FetchOrigin,
  makeCacheKey,
} from '../src/index.js';
import { abortOnCancel } from '../test/support/abort-on-cancel.js';

const ROUNDS = 7;
/** Each request gets its own signal, as the edge gives each client request. */
const clientSignal = () => new AbortController().signal;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)] ?? 0;

async function startOrigin(latencyMs: number, cacheControl: string) {
  let requests = 0;
  const server = createServer((_request, response) => {
    requests += 1;
    setTimeout(
      () => response.writeHead(200, { 'cache-control': cacheControl }).end('x'.repeat(1024)),
      latencyMs,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const { port } = server.address() as AddressInfo;
  const fetchOrigin =
    (path: string): FetchOrigin =>
    (request, signal) =>
      new Promise((resolve, reject) => {
        const outgoing = httpRequest(
          { host: '127.0.0.1', port, path, method: request.method, agent },
          (response) =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response }),
        );
        abortOnCancel(outgoing, signal);
        outgoing.on('error', reject).end();
      });
  return {
    fetchOrigin,
    requests: () => requests,
    close: () => {
      agent.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}

async function drain(reply: CacheReply | { body: Readable }): Promise<void> {
  if (reply.body !== null && !Buffer.isBuffer(reply.body)) for await (const _ of reply.body) void _;
}

async function hitPath(): Promise<void> {
  const origin = await startOrigin(0, 'max-age=3600');
  const store = createMemoryStore({ maxBytes: 64 * 1024 * 1024, maxEntryBytes: 1024 * 1024 });
  const cache = createHttpCache({ store });
  const request = {
    method: 'GET',
    host: 'example.com',
    path: '/hit',
    headers: { host: 'example.com', accept: '*/*', 'user-agent': 'bench' },
  };

  const key = makeCacheKey(request);
  // One signal for the whole loop: a hit adds no listener to it, and creating an AbortController
  // (≈4 µs on Node 20) is the edge's per-request cost, not the cache's.
  const signal = clientSignal();
  const fetchOrigin = origin.fetchOrigin('/hit');
  await (await cache.serve(request, fetchOrigin, signal)).storing;
  const operations = 200_000;
  const serveMicros: number[] = [];
  const storeMicros: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    let started = performance.now();
    for (let index = 0; index < operations; index += 1) await store.get(key);
    storeMicros.push(((performance.now() - started) * 1000) / operations);
    started = performance.now();
    for (let index = 0; index < operations; index += 1) await cache.serve(request, fetchOrigin, signal);
    serveMicros.push(((performance.now() - started) * 1000) / operations);
  }
  const serve = median(serveMicros);
  const bare = median(storeMicros);
  console.log(
    `hit path: serve() ${serve.toFixed(2)} µs/op (${Math.round(1e6 / serve)} op/s); bare store.get() ${bare.toFixed(2)} µs/op; serve costs ${(serve / bare).toFixed(1)}× a bare lookup`,
  );
  origin.close();
}

async function storm(): Promise<void> {
  const saved: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const origin = await startOrigin(20, 'max-age=3600');
    const cache = createHttpCache();

    const requests = Array.from({ length: 1000 }, (_, index) => {
      const path = `/storm/${index % 20}`;
      const request = { method: 'GET', host: 'example.com', path, headers: { host: 'example.com' } };
      return cache.serve(request, origin.fetchOrigin(path), clientSignal()).then(drain);
    });
    await Promise.all(requests);
    saved.push(1000 - origin.requests());
    origin.close();
  }
  console.log(
    `coalescing storm: 1000 concurrent misses over 20 URLs → ${1000 - median(saved)} origin requests (${(median(saved) / 10).toFixed(1)}% saved)`,
  );
}

async function uncacheableTrap(): Promise<void> {
  const concurrency = 50;
  const total = 1000;
  const run = async (viaCache: boolean) => {
    const origin = await startOrigin(10, 'no-store');
    const cache = createHttpCache();
    const fetchOrigin = origin.fetchOrigin('/dynamic');

    const request = {
      method: 'GET',
      host: 'example.com',
      path: '/dynamic',
      headers: { host: 'example.com' },
    };
    // One request first, as in steady state: the cache then knows the URL is uncacheable. (The very
    // first burst on a never-seen uncacheable URL waits one origin round trip before being released.)
    if (viaCache) await drain(await cache.serve(request, fetchOrigin, clientSignal()));
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < total) {
        next += 1;
        const begun = performance.now();
        if (viaCache) await drain(await cache.serve(request, fetchOrigin, clientSignal()));
        else await drain(await fetchOrigin({ method: 'GET', headers: request.headers }, clientSignal()));
        latencies.push(performance.now() - begun);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;
    origin.close();
    return { rate: total / seconds, p99: percentile(latencies, 0.99) };
  };
  const ratios: number[] = [];
  const cachedP99: number[] = [];
  const directP99: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const direct = await run(false);
    const cached = await run(true);
    ratios.push(cached.rate / direct.rate);
    cachedP99.push(cached.p99);
    directP99.push(direct.p99);
  }
  console.log(
    `uncacheable URL, ${concurrency} concurrent, origin 10 ms: through the cache ${median(ratios).toFixed(2)}× the direct req/s; ` +
      `median p99 ${median(cachedP99).toFixed(1)} ms vs ${median(directP99).toFixed(1)} ms direct`,
  );
}

await hitPath();
await storm();
await uncacheableTrap();
