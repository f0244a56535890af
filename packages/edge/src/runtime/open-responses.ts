import type { OpenExchanges, RequestContext } from '../lifecycle/context.js';

/**
 * The requests a traffic server is still answering, from arrival until their response closes: how many for
 * the shutdown drain, and which, so that a block that comes into force while a long response is still
 * streaming (a live progressive stream, a large download) reaches it (cut-when-blocked.ts). One Set entry
 * per request, added and removed where the in-flight count was kept.
 */
export class OpenResponses implements OpenExchanges {
  readonly kind = 'response';
  private readonly open = new Set<RequestContext>();

  get size(): number {
    return this.open.size;
  }

  add(ctx: RequestContext): void {
    this.open.add(ctx);
  }

  delete(ctx: RequestContext): void {
    this.open.delete(ctx);
  }

  requests(): Iterable<RequestContext> {
    return this.open;
  }

  /**
   * Destroys the response: the client sees a truncated body (never a complete-looking one, see `pipeBody`),
   * or, before the status line, a closed connection; closing it aborts the origin request (traffic-server).
   */
  cut(ctx: RequestContext): boolean {
    if (ctx.res.writableFinished || ctx.res.destroyed) return false;
    ctx.cut = true;
    ctx.res.destroy();
    return true;
  }
}
