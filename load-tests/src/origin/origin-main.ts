/**
 * The upstream origin every proxy candidate fronts (and, on its own core, the "origin direct" ceiling).
 * Run as its own process: `node --import tsx origin-main.ts [--port N]`; prints `{"ready":…,"url":…}`.
 * `GET /__origin/count?prefix=/storm/x` answers how many requests under a prefix reached it (storm figures).
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { serveChild } from '../system/serve-child.js';
import { benchPaths, originRoute } from './canned-responses.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

// Only storm paths are counted one by one: mixed-load misses are unique URLs and would grow the map forever.
const stormCounts = new Map<string, number>();
let total = 0;

const server = createServer((req, res) => {
  const target = req.url ?? '/';
  if (target.startsWith('/__origin/count')) {
    const prefix = new URL(target, 'http://origin').searchParams.get('prefix') ?? '';
    let count = 0;
    for (const [path, hits] of stormCounts) if (path.startsWith(prefix)) count += hits;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ count, total }));
    return;
  }
  total++;
  if (target.startsWith(benchPaths.stormPrefix)) stormCounts.set(target, (stormCounts.get(target) ?? 0) + 1);
  const route = originRoute(target);
  if (route === undefined) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('unknown benchmark path\n');
    return;
  }
  const { canned, delayMs } = route;
  const send = () => {
    res.writeHead(canned.status, canned.headers);
    res.end(req.method === 'HEAD' ? undefined : canned.body);
  };
  if (delayMs > 0) setTimeout(send, delayMs);
  else send();
});

serveChild(server, Number(values.port));
