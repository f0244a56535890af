import type { Reply } from '../lifecycle/context.js';

/**
 * A short text answer from the edge itself (400, 405, 421, 502, 504…). `no-store`: these describe one
 * request's problem, and a shared cache downstream must not replay them for others.
 */
export function plainReply(status: number, message: string, headers: Reply['headers'] = {}): Reply {
  const body = `${message}\n`;
  return {
    status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      ...headers,
    },
    body,
  };
}
