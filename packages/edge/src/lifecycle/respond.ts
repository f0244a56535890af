import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EdgeError } from '../errors.js';
import type { Reply, RequestContext } from './context.js';

/**
 * Phase `respond`: writes the reply. A streamed body goes through `pipeline`, which applies backpressure
 * (a slow client slows the origin read, memory stays bounded) and destroys both sides on failure.
 * Resolves when the last byte is handed to the socket; rejects with an EdgeError when either side fails
 * mid-body (the status line is gone by then: the connection is cut so the client sees a truncated body).
 */
export async function respond(ctx: RequestContext, reply: Reply): Promise<void> {
  const { res } = ctx;
  ctx.status = reply.status;
  res.writeHead(reply.status, reply.headers);
  const body = reply.body;
  if (body === null || ctx.req.method === 'HEAD') {
    if (body instanceof Readable) body.destroy();
    res.end();
    return;
  }
  if (!(body instanceof Readable)) {
    res.end(body);
    return;
  }
  try {
    await pipeline(body, res);
  } catch (error) {
    throw res.destroyed && !res.writableFinished && ctx.abort.signal.aborted
      ? new EdgeError('EDGE_CLIENT_ABORTED', 'client', 'client went away mid-body', { cause: error })
      : new EdgeError('EDGE_ORIGIN_PROTOCOL', 'origin', 'origin body failed mid-stream', { cause: error });
  }
}
