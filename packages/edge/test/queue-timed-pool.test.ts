import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { QueueTimedPool } from '../src/upstream/queue-timed-pool.js';

// The pool in front of a real node:http origin that holds every request until the test answers it, so
// that the order in which requests reach the origin, and how many it holds at once, can be read.

async function startHoldingOrigin() {
  const held: { path: string; res: ServerResponse }[] = [];
  const seen: string[] = [];
  let concurrent = 0;
  let mostConcurrent = 0;
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    concurrent += 1;
    mostConcurrent = Math.max(mostConcurrent, concurrent);
    res.on('close', () => {
      concurrent -= 1;
    });
    held.push({ path: req.url ?? '', res });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  /** Answers the oldest held request; resolves with its path once the origin holds one to answer. */
  const answerOldest = async () => {
    while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const { path, res } = held.shift() as { path: string; res: ServerResponse };
    res.end(path);
    return path;
  };
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, answerOldest, mostConcurrent: () => mostConcurrent };
}

function poolFor(url: string, connections: number) {
  const pool = new QueueTimedPool(url, { connections }, 60_000);
  onTestFinished(() => pool.destroy());
  return pool;
}

const get = (pool: QueueTimedPool, path: string) =>
  pool.request({ method: 'GET', path }).then(async (response) => response.body.text());

describe('QueueTimedPool', () => {
  it('sends waiting requests in arrival order as connections come free, never more than `connections` at once', async () => {
    const origin = await startHoldingOrigin();
    const pool = poolFor(origin.url, 2);
    const paths = ['/1', '/2', '/3', '/4', '/5', '/6'];
    const bodies = Promise.all(paths.map((path) => get(pool, path)));
    const answered: string[] = [];
    for (const _ of paths) answered.push(await origin.answerOldest());
    expect(await bodies).toEqual(paths);
    expect(origin.seen).toEqual(paths);
    expect(answered).toEqual(paths);
    expect(origin.mostConcurrent()).toBe(2);
  });

  it('failWaiting fails the waiting requests with the error given, and they are never sent', async () => {
    const origin = await startHoldingOrigin();
    const pool = poolFor(origin.url, 1);
    const first = get(pool, '/first');
    const waiting = [get(pool, '/second'), get(pool, '/third')].map((answer) =>
      answer.catch((error: Error) => error.message),
    );
    while (origin.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    pool.failWaiting(new Error('pool destroyed'));
    expect(await Promise.all(waiting)).toEqual(['pool destroyed', 'pool destroyed']);
    await origin.answerOldest();
    expect(await first).toBe('/first');
    expect(origin.seen).toEqual(['/first']);
  });
});
