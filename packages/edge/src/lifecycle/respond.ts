import { Readable, type Writable } from 'node:stream';
import { EdgeError, toEdgeError } from '../errors.js';
import type { Reply, RequestContext } from './context.js';

/**
 * Phase `respond`: writes the reply. A streamed body goes through `pipeBody`, which applies backpressure
 * (a slow client slows the origin read, memory stays bounded) and destroys both sides on failure.
 * A reply without a body to stream is written at once and returns undefined (no promise: see
 * run-lifecycle.ts). A streamed one returns a promise that resolves when the last byte is handed to the
 * socket and rejects with an EdgeError when either side fails mid-body (the status line is gone by then:
 * the connection is cut so the client sees a truncated body). Throws when the head cannot be written.
 * A client that stops taking what is written is cut by the send timeout (send-timeout.ts).
 */
export function respond(ctx: RequestContext, reply: Reply): Promise<void> | undefined {
  const { res } = ctx;
  ctx.status = reply.status;
  res.writeHead(reply.status, reply.headers);
  const body = reply.body;
  if (body === null || ctx.req.method === 'HEAD') {
    if (body instanceof Readable) body.destroy();
    res.end();
    return undefined;
  }
  if (!(body instanceof Readable)) {
    res.end(body);
    // A client that reads nothing leaves a large reply (a cache hit of megabytes) in the socket.
    ctx.sendTimeout?.afterEnd(res);
    return undefined;
  }
  return streamBody(ctx, body);
}

async function streamBody(ctx: RequestContext, body: Readable): Promise<void> {
  const { res } = ctx;
  const send = ctx.sendTimeout;
  try {
    await pipeBody(body, res, send && (() => send.watch(res)));
  } catch (error) {
    if (res.destroyed && !res.writableFinished && ctx.abort.aborted) {
      throw new EdgeError('EDGE_CLIENT_ABORTED', 'client', 'client went away mid-body', { cause: error });
    }
    throw originBodyFailure(error);
  }
}

/**
 * What an origin failure becomes once the response's status line has gone to the client. A body that
 * stalled past bodyMs stays a timeout (for alerts on origin timeouts); any other failure is a response the
 * origin broke off.
 */
export function originBodyFailure(error: unknown): EdgeError {
  const failure = toEdgeError(error);
  return failure.code === 'EDGE_ORIGIN_TIMEOUT'
    ? failure
    : new EdgeError('EDGE_ORIGIN_PROTOCOL', 'origin', 'origin body failed mid-stream', { cause: error });
}

/**
 * Streams `body` into `res` with `pipeline`'s promise and failure rules: resolves once `res` has finished;
 * when either side fails or closes early, destroys both and rejects. `onBlocked` is called each time `res`
 * says it is full: the one moment the client may not be reading (send-timeout.ts); a body waiting on a
 * silent origin is flowing, not blocked, and is bodyMs's.
 *
 * Neither `stream/promises` `pipeline` nor `body.pipe(res)`. pipeline makes an AbortController per call
 * and aborts it when done, creating an AbortError DOMException per streamed response (a tenth of a
 * pass-through request's CPU in our profiles). pipe adds seven listeners to the two streams and takes
 * them off again at the end, on top of the ones this function needs anyway (~13,600 instructions of a
 * pass-through, bench:instructions), and it pauses the body when it lets go of it, a pause that looked
 * like backpressure. This is pipe's own data/drain loop, with one listener per event.
 */
export function pipeBody(body: Readable, res: Writable, onBlocked?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      body.destroy();
      res.destroy();
      reject(error);
    };
    // Stay subscribed after settling: a late 'error' without a listener would crash the process.
    body.on('error', fail);
    res.on('error', fail);
    body.once('close', () => {
      if (!body.readableEnded) fail(prematureClose('the response body closed before its end'));
    });
    res.once('close', () => {
      if (!res.writableFinished) fail(prematureClose('the client connection closed before the end'));
    });
    res.once('finish', () => {
      settled = true;
      resolve();
    });
    const resume = () => body.resume();
    body.on('data', (chunk: Buffer) => {
      if (res.write(chunk)) return;
      body.pause();
      res.once('drain', resume);
      onBlocked?.();
    });
    body.once('end', () => res.end());
    // As pipe does: a 'data' listener leaves a body someone paused before paused, and it would never end.
    body.resume();
  });
}

function prematureClose(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
