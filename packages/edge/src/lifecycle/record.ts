import type { Logger } from 'pino';
import type { EdgeError } from '../errors.js';
import type { Metrics } from '../observe/metrics.js';
import type { RequestContext } from './context.js';

/**
 * Phase `record`: always runs, last, with the error if there was one (Pingora's `logging`).
 * Every blocked request is logged: it is the evidence that an order was enforced. The rest is sampled.
 */
export function makeRecord(logger: Logger, metrics: Metrics, sampleRate: number) {
  return function record(ctx: RequestContext, failure: EdgeError | undefined): void {
    // A request a block cut while it was still open (runtime/cut-when-blocked.ts) ended as `cut`, whatever
    // its torn-down sockets then reported: not the client's leaving, not an origin error.
    const error = ctx.cut ? undefined : failure;
    const outcome = ctx.cut ? 'cut' : (ctx.outcome ?? (error === undefined ? 'proxied' : 'error'));
    const seconds = Number(process.hrtime.bigint() - ctx.startedAt) / 1e9;
    metrics.requests.inc(outcome, () => ({ outcome }));
    metrics.duration.observe(outcome, () => ({ outcome }), seconds);
    if (ctx.client?.malformedForwarding) metrics.malformedForwarding.inc();
    if (error !== undefined && error.source === 'origin') metrics.originErrors.inc({ code: error.code });

    if (outcome === 'blocked') {
      const orderId = ctx.decision?.order?.id ?? 'none';
      const country = ctx.client?.country ?? 'unknown';
      // Order ids are [a-z0-9._-] (policy's ORDER_ID) and countries letters: the space cannot be in either.
      metrics.blocks.inc(`${orderId} ${country}`, () => ({ order_id: orderId, country }));
      // The fields are built only for a line that will be written (benchmarks run at `warn`).
      if (logger.isLevelEnabled('info')) logger.info(fields(ctx, outcome, seconds, error), 'blocked');
      return;
    }
    if (error !== undefined && outcome === 'error') {
      logger.warn({ ...fields(ctx, outcome, seconds, error), err: error }, error.message);
      return;
    }
    if ((sampleRate >= 1 || Math.random() < sampleRate) && logger.isLevelEnabled('info'))
      logger.info(fields(ctx, outcome, seconds, error), 'request');
  };
}

function fields(ctx: RequestContext, outcome: string, seconds: number, error: EdgeError | undefined) {
  return {
    request_id: ctx.id,
    outcome,
    status: ctx.status,
    method: ctx.req.method,
    host: ctx.host ?? ctx.authority,
    path: ctx.path,
    client_ip: ctx.client?.ip,
    country: ctx.client?.country ?? null,
    country_source: ctx.client?.countrySource,
    site: ctx.site?.name,
    order_id: ctx.decision?.order?.id,
    decision: ctx.decision?.reason,
    cache_status: ctx.cache?.outcome,
    not_stored: ctx.cache?.notStored,
    error_code: error?.code,
    duration_ms: Math.round(seconds * 1e6) / 1e3,
  };
}
