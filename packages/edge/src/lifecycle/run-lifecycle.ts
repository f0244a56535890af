import { EdgeError, statusForError, toEdgeError } from '../errors.js';
import { errorReply } from '../reply/plain-reply.js';
import type { Outcome, Reply, RequestContext, Verdict } from './context.js';
import { respond } from './respond.js';

/** A synchronous phase: go on, or answer now. */
export type Phase = (ctx: RequestContext) => Verdict;

/**
 * The phases of one edge, built once per config by `createPhases`.
 * `fetch` is everything after the decision: cache lookup → proxy → store (or proxy alone without a cache).
 */
export type Phases = {
  accept: Phase;
  identifyClient: Phase;
  normalizeHost: Phase;
  route: Phase;
  decide: Phase;
  checkCertificate: Phase;
  redirectToHttps: Phase;
  /** The reply itself when it is ready at once (a cache hit, an answer of the edge's own), else a promise. */
  fetch: (ctx: RequestContext) => Reply | Promise<Reply>;
  record: (ctx: RequestContext, error: EdgeError | undefined) => void;
};

/**
 * The request lifecycle, in order:
 *   accept → identifyClient → normalizeHost → route → decide → checkCertificate → redirectToHttps
 *     → [cacheLookup → proxy → store] → respond → record
 * The decision runs before the cache and before the origin: a blocked request never reaches either.
 * It also runs before the certificate check and the https redirect: a blocked client gets 451, never a
 * 421 or a 308 (DECISIONS #16).
 * A phase that answers (400, 421, 451, 308) skips the rest; `record` always runs, with the error if any.
 * A request whose reply is ready at once and has no body to stream (a 451, a cache hit) is answered and
 * recorded in the turn it arrived in, without a promise: each await cost a hit ~1,000 instructions
 * (bench:instructions). The rest returns a promise that settles once the request is recorded.
 */
export function runLifecycle(ctx: RequestContext, phases: Phases): Promise<void> | undefined {
  let sending: Promise<void> | undefined;
  try {
    const verdict = runGate(ctx, phases);
    if (verdict.next === 'reply') {
      ctx.outcome = outcomeOfGateReply(verdict.reply.status);
      sending = respond(ctx, verdict.reply);
    } else {
      const fetched = phases.fetch(ctx);
      if (fetched instanceof Promise) return fetchThenRespond(ctx, phases, fetched);
      ctx.outcome ??= 'proxied';
      sending = respond(ctx, fetched);
    }
  } catch (thrown) {
    recordSafely(ctx, phases, failed(ctx, thrown));
    return undefined;
  }
  if (sending !== undefined) return recordWhenSent(ctx, phases, sending);
  recordSafely(ctx, phases, undefined);
  return undefined;
}

/** The rest of the lifecycle of a request whose reply is not ready yet (the origin's, a store's). */
async function fetchThenRespond(ctx: RequestContext, phases: Phases, fetched: Promise<Reply>): Promise<void> {
  let error: EdgeError | undefined;
  try {
    const reply = await fetched;
    ctx.outcome ??= 'proxied';
    await respond(ctx, reply);
  } catch (thrown) {
    error = failed(ctx, thrown);
  } finally {
    recordSafely(ctx, phases, error);
  }
}

/** Records a request once its streamed body has been sent (or has failed). */
async function recordWhenSent(ctx: RequestContext, phases: Phases, sending: Promise<void>): Promise<void> {
  let error: EdgeError | undefined;
  try {
    await sending;
  } catch (thrown) {
    error = failed(ctx, thrown);
  } finally {
    recordSafely(ctx, phases, error);
  }
}

/** A request failed: its outcome set, the client answered or cut; the error to record. */
function failed(ctx: RequestContext, thrown: unknown): EdgeError {
  const error = sendTimedOut(ctx, toEdgeError(thrown));
  ctx.outcome = outcomeOfError(error);
  replyToError(ctx, error);
  return error;
}

/** `record` must never turn a served request into a crash (the lifecycle promise is not awaited). */
export function recordSafely(ctx: RequestContext, phases: Phases, error: EdgeError | undefined): void {
  try {
    phases.record(ctx, error);
  } catch {
    // Logging or metrics failed; the request is answered, and there is nowhere left to report it.
  }
}

/** The synchronous gate every request (and every Upgrade) passes before anything is fetched. */
export function runGate(ctx: RequestContext, phases: Phases): Verdict {
  let verdict = phases.accept(ctx);
  if (verdict.next === 'continue') verdict = phases.identifyClient(ctx);
  if (verdict.next === 'continue') verdict = phases.normalizeHost(ctx);
  if (verdict.next === 'continue') verdict = phases.route(ctx);
  if (verdict.next === 'continue') verdict = phases.decide(ctx);
  if (verdict.next === 'continue') verdict = phases.checkCertificate(ctx);
  if (verdict.next === 'continue') verdict = phases.redirectToHttps(ctx);
  return verdict;
}

/** The outcome word of a request the gate answered itself. */
export function outcomeOfGateReply(status: number): Outcome {
  if (status === 451) return 'blocked';
  return status === 308 ? 'redirected' : 'rejected';
}

/** Answers a failed request when the status line has not gone yet; otherwise cuts the connection. */
function replyToError(ctx: RequestContext, error: EdgeError): void {
  const { res } = ctx;
  const status = statusForError(error);
  if (status === undefined || res.headersSent || res.destroyed) {
    if (!res.writableFinished) res.destroy();
    return;
  }
  const reply = errorReply(status);
  ctx.status = reply.status;
  try {
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  } catch {
    res.destroy();
  }
}

/**
 * A request whose connection the send timeout destroyed (its own response stuck, or one ahead of it on the
 * connection) fails as any request whose client left; it is recorded under its own code, so logs tell a
 * client that stopped reading from one that hung up.
 */
function sendTimedOut(ctx: RequestContext, error: EdgeError): EdgeError {
  if (error.code !== 'EDGE_CLIENT_ABORTED' || ctx.sendTimeout?.cut(ctx.req.socket) !== true) return error;
  return new EdgeError(
    'EDGE_CLIENT_SEND_TIMEOUT',
    'client',
    'client took no bytes for clientTimeouts.sendMs',
    {
      cause: error,
    },
  );
}

/** A client that left is `aborted`, a request the client got wrong (a broken body) `rejected`, the rest `error`. */
export function outcomeOfError(error: EdgeError): Outcome {
  if (error.code === 'EDGE_CLIENT_ABORTED' || error.code === 'EDGE_CLIENT_SEND_TIMEOUT') return 'aborted';
  return error.source === 'client' ? 'rejected' : 'error';
}
