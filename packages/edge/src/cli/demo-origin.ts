import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeHtml } from '../reply/escape-html.js';

/**
 * The small origin the embedded defaults front, so `pnpm start` shows a real proxied 200 with no other
 * server to run. Listens on a free loopback port; its pages are cacheable for a minute.
 */
export async function startDemoOrigin(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edge451 demo origin</title></head>
<body><h1>Hello from the demo origin</h1>
<p>You asked for ${escapeHtml(req.headers.host ?? '')}${escapeHtml(req.url ?? '/')}; edge451 let you through.</p>
</body></html>
`;
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'public, max-age=60',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}
