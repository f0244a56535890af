import type { IncomingMessage } from 'node:http';
import { plainReply } from '../reply/plain-reply.js';
import { CONTINUE, type RequestContext, replyWith, type Verdict } from './context.js';

/**
 * Phase `accept`: turns the request target and Host header(s) into one authority and an origin-form path.
 * Ends the request with 400 on an ambiguous or unusable target (several Host headers, none on HTTP/1.1,
 * an unparsable target), because a proxy that guesses which Host counts can be made to route one name and
 * enforce another.
 */
export function accept(ctx: RequestContext): Verdict {
  const { req } = ctx;
  const target = parseRequestTarget(req.url ?? '', req.method ?? 'GET');
  if (target === undefined) return replyWith(plainReply(400, 'Bad request target.'));

  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing (1.0 has none); node:http reads it as
  // chunked and keeps the connection, where a front proxy may have framed the body otherwise: close it.
  if (req.httpVersionMinor === 0 && req.headers['transfer-encoding'] !== undefined) {
    return replyWith(plainReply(400, 'Transfer-Encoding in an HTTP/1.0 request.', { connection: 'close' }));
  }

  const hostHeaders = countHostHeaders(req.rawHeaders);
  // Node keeps the first Host silently; two different answers to "which site?" must not reach routing.
  if (hostHeaders > 1) return replyWith(plainReply(400, 'Several Host headers.'));

  // RFC 9112 §3.2.2: the authority of an absolute-form target wins over Host.
  const authority = target.authority ?? req.headers.host;
  if (authority === undefined || authority === '') {
    return replyWith(plainReply(400, 'Missing Host header.'));
  }
  ctx.authority = authority;
  ctx.path = target.path;
  return CONTINUE;
}

type RequestTarget = { authority?: string; path: string };

/** origin-form (`/a?b`), absolute-form (`http://host/a`) and asterisk-form (`*`, OPTIONS only). */
export function parseRequestTarget(url: string, method = 'GET'): RequestTarget | undefined {
  if (url.startsWith('/')) return { path: url };
  if (url === '*') return method === 'OPTIONS' ? { path: '*' } : undefined;
  const scheme = /^https?:\/\//i.exec(url);
  if (scheme === null) return undefined;
  const rest = url.slice(scheme[0].length);
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  if (authority === '') return undefined;
  const tail = end === -1 ? '' : rest.slice(end);
  // The fragment is never sent; a target that starts with '?' still needs a path.
  const withoutFragment = tail.split('#', 1)[0] ?? '';
  const path = withoutFragment.startsWith('/') ? withoutFragment : `/${withoutFragment}`;
  return { authority, path };
}

function countHostHeaders(rawHeaders: IncomingMessage['rawHeaders']): number {
  let count = 0;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index];
    if (name !== undefined && name.length === 4 && name.toLowerCase() === 'host') count += 1;
  }
  return count;
}
