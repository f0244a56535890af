/**
 * The least a proxy on edge451's own stack can do: node:http takes the request, an undici Pool (the
 * edge's upstream client, with the edge's 128 connections) sends it to the origin, and the origin's head
 * and body go back as they came. No geo lookup, no policy, no cache, no header hygiene, no timeouts of its
 * own. It is not a candidate an operator could run: it is the pass-through's floor, measured in the same
 * run, so the report can say how much of edge451's cost per request is Node and undici, and how much is
 * the edge's own work.
 * `node --import tsx undici-floor.ts --port N --upstream http://127.0.0.1:PORT`; prints `{"ready":…}`.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { serveChild } from '../system/serve-child.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, upstream: { type: 'string' } },
});
if (values.upstream === undefined) throw new Error('undici-floor needs --upstream');

const pool = new Pool(values.upstream, { connections: 128 });

const server = createServer((req, res) => {
  pool
    .request({
      // The benchmark sends GET and HEAD only; the floor carries no request body.
      method: req.method === 'HEAD' ? 'HEAD' : 'GET',
      path: req.url ?? '/',
      headers: { host: req.headers.host },
    })
    .then(
      ({ statusCode, headers, body }) => {
        res.writeHead(statusCode, headers);
        // pipe's backpressure keeps a 1 MiB body bounded; a client that leaves stops the origin's body.
        body.pipe(res);
        res.once('close', () => {
          if (!res.writableFinished) body.destroy();
        });
        body.once('error', () => res.destroy());
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
});

serveChild(server, Number(values.port));
