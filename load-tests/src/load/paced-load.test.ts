import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { detectPinning } from '../system/pinning.js';
import { runPacedInChild } from './paced-child.js';
import { runPaced } from './paced-load.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A real server; `delayMs(elapsed)` says how long to hold each answer, by ms since the server started. */
async function startServer(delayMs: (elapsedMs: number) => number = () => 0): Promise<string> {
  const started = performance.now();
  const server = createServer((_req, res) => {
    setTimeout(() => res.end('ok'), delayMs(performance.now() - started));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const shapes = [{ path: '/', host: 'paced.test' }];

describe('the paced client', () => {
  test('measures after its warm-up: slow first answers count as statuses, not as latency', async () => {
    // Everything due in the first 300 ms (of a 500 ms warm-up) is held 200 ms.
    const baseUrl = await startServer((elapsed) => (elapsed < 300 ? 200 : 0));
    const result = await runPaced({
      baseUrl,
      shapes,
      ratePerSecond: 200,
      warmupSeconds: 0.5,
      durationSeconds: 1,
      connections: 8,
    });
    expect(result.requests).toBe(200);
    expect(result.statusCounts).toEqual({ 200: 300 });
    expect(result.socketErrors).toBe(0);
    expect(result.p99Ms).toBeLessThan(150);
  });

  test('reports how late requests left when its own event loop is blocked', async () => {
    const baseUrl = await startServer();
    const blocked = setTimeout(() => {
      const until = performance.now() + 120;
      while (performance.now() < until) {
        // A client too busy to send on time.
      }
    }, 600);
    const result = await runPaced({
      baseUrl,
      shapes,
      ratePerSecond: 200,
      warmupSeconds: 0.2,
      durationSeconds: 1,
      connections: 8,
    });
    clearTimeout(blocked);
    expect(result.sendLagP99Ms).toBeGreaterThan(50);
    // Latency counts from when a request was due, so the client's delay is in it too.
    expect(result.p99Ms).toBeGreaterThan(50);
  });

  test('counts the requests it could not queue behind a stalled server apart from socket errors', async () => {
    // Nothing is answered before 1.2 s: two connections queue 128 requests, and the rest of the 240 due
    // by then find the queue full. Then everything is answered at once.
    const baseUrl = await startServer((elapsed) => Math.max(0, 1200 - elapsed));
    const result = await runPaced({
      baseUrl,
      shapes,
      ratePerSecond: 200,
      durationSeconds: 1,
      connections: 2,
    });
    expect(result.unsent).toBeGreaterThan(80);
    expect(result.socketErrors).toBe(0);
    // A warm-up second and a measured one: every request sent was answered.
    expect(result.statusCounts).toEqual({ 200: 400 - (result.unsent ?? 0) });
  });

  test('runs in a child process of its own and hands back the same result shape', async () => {
    const baseUrl = await startServer();
    const result = await runPacedInChild(
      { baseUrl, shapes, ratePerSecond: 100, warmupSeconds: 0.2, durationSeconds: 0.5, connections: 4 },
      detectPinning(),
    );
    expect(result).toMatchObject({ tool: 'paced', requests: 50, socketErrors: 0, statusCounts: { 200: 70 } });
    expect(Number.isFinite(result.sendLagP99Ms)).toBe(true);
    expect(result.p50Ms).toBeGreaterThan(0);
  });
});
