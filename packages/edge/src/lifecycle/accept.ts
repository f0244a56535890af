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

/**
 * origin-form (`/a?b`), absolute-form (`http://host/a`) and asterisk-form (`*`, OPTIONS only). A `#fragment`
 * is dropped from either form, as nginx does: RFC 9112's request-target has none (a client never sends one,
 * RFC 9110 §4.2.5), so one that arrives anyway must neither reach the origin, which may read it as part of
 * the path, nor split one URL's cache entry in many. Dropped rather than refused because the client still
 * named a resource unambiguously, and the 451 a blocked client is owed does not depend on it.
 */
export function parseRequestTarget(url: string, method = 'GET'): RequestTarget | undefined {
  if (url.startsWith('/')) return { path: withoutFragment(url) };
  if (url === '*') return method === 'OPTIONS' ? { path: '*' } : undefined;
  const scheme = /^https?:\/\//i.exec(url);
  if (scheme === null) return undefined;
  const rest = url.slice(scheme[0].length);
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  if (authority === '') return undefined;
  const tail = withoutFragment(end === -1 ? '' : rest.slice(end));
  // A target that starts with '?' still needs a path.
  const path = tail.startsWith('/') ? tail : `/${tail}`;
  return { authority, path };
}

function withoutFragment(target: string): string {
  const hash = target.indexOf('#');
  return hash === -1 ? target : target.slice(0, hash);
}

function countHostHeaders(rawHeaders: IncomingMessage['rawHeaders']): number {
  let count = 0;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index];
    if (name !== undefined && name.length === 4 && name.toLowerCase() === 'host') count += 1;
  }
  return count;
}
