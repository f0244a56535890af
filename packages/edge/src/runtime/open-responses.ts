import type { Duplex } from 'node:stream';
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
   * Resolves once every response still being answered on `socket` has closed; undefined when there is none
   * (nearly always). A scan of every open response: it runs only for an Upgrade or a CONNECT.
   */
  earlierOn(socket: Duplex): Promise<void> | undefined {
    const closing: Promise<void>[] = [];
    for (const ctx of this.open) {
      if (ctx.req.socket !== socket || ctx.res.writableFinished) continue;
      closing.push(new Promise((resolve) => ctx.res.once('close', () => resolve())));
    }
    return closing.length === 0 ? undefined : Promise.all(closing).then(() => undefined);
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
