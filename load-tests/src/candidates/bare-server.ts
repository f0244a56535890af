/**
 * The baseline: a bare node:http server that returns the same bytes as the origin (and, for the blocked
 * path, the same 451 bytes edge451 answers: blocked-answer.ts) from ready-made buffers — no routing, geo,
 * policy or cache. It is the most a Node process can do per request; the targets are ratios to it.
 * `node --import tsx bare-server.ts --port N [--blocked-body FILE --blocked-headers FILE]`; prints
 * `{"ready":…}`.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { benchPaths, originRoute } from '../origin/canned-responses.js';
import { serveChild } from '../system/serve-child.js';
import { readBlockedAnswer } from './blocked-answer.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'blocked-body': { type: 'string' },
    'blocked-headers': { type: 'string' },
  },
});

const blocked = readBlockedAnswer(values['blocked-body'], values['blocked-headers']);
const fallback = originRoute(benchPaths.missPrefix)?.canned;

const server = createServer((req, res) => {
  const target = req.url ?? '/';
  const canned = target === benchPaths.blocked ? blocked : (originRoute(target)?.canned ?? fallback);
  if (canned === undefined) {
    res.writeHead(500);
    res.end();
    return;
  }
  res.writeHead(canned.status, canned.headers);
  res.end(canned.body);
});

serveChild(server, Number(values.port));
