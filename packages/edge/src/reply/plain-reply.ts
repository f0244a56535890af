import type { Reply } from '../lifecycle/context.js';

/**
 * A short text answer from the edge itself (400, 405, 421, 502, 503, 504…). `no-store`: these describe one
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

const errorMessages: Record<number, string> = {
  400: 'Bad request.',
  500: 'Internal error.',
  502: 'Bad gateway: the origin could not be reached or answered badly.',
  503: 'Service unavailable: every connection to the origin stayed busy; the request was not sent. Try again.',
  504: 'Gateway timeout: the origin did not answer in time.',
};

/** The edge's answer to a request that failed with `status` (a client error, or the origin's failure). */
export function errorReply(status: number): Reply {
  return plainReply(status, errorMessages[status] ?? 'Error.');
}
