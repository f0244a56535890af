import type { Duplex } from 'node:stream';
import type { OpenExchanges, RequestContext } from '../lifecycle/context.js';

/**
 * The requests a traffic server is still answering, from arrival until their response closes: how many for
 * the shutdown drain, and which, so that a block that comes into force while a long response is still
 * streaming (a live progressive stream, a large download) reaches it (cut-when-blocked.ts).
 *
 * An array, each request knowing its place (`ctx.openAt`; a removal moves the last one into the gap), not a
 * Set: a long-lived Set that takes and drops an entry per request keeps dropped requests alive through
 * scavenges. Each rehash of V8's table leaves the obsolete table pointing to the new one and still holding
 * the entries it had; once the Set has been through a mark-compact (it lives in old space), that chain of
 * dead tables is a root for every scavenge until the next mark-compact. Every request's objects were
 * promoted: 3.0–4.2 KB per pass-through request, ~0.2 KB with this array (--trace-gc-nvp under wrk; with
 * `cache: false`, 2.4–3.0 KB against 41–47 B). At 3,600 req/s that is ~13 MB/s into old space, hence the
 * mark-compacts and long scavenges behind the pass-through tail (load-tests README; the p99 itself was not
 * readable on the VM of that day). A popped or overwritten array slot holds nothing.
 */
export class OpenResponses implements OpenExchanges {
  readonly kind = 'response';
  private readonly open: RequestContext[] = [];

  get size(): number {
    return this.open.length;
  }

  add(ctx: RequestContext): void {
    if (ctx.openAt !== undefined) return;
    ctx.openAt = this.open.length;
    this.open.push(ctx);
  }

  delete(ctx: RequestContext): void {
    const at = ctx.openAt;
    if (at === undefined || this.open[at] !== ctx) return;
    ctx.openAt = undefined;
    const last = this.open.pop() as RequestContext;
    if (last === ctx) return;
    this.open[at] = last;
    last.openAt = at;
  }

  /** The open requests now; a caller that cuts them iterates a copy (deleting moves entries). */
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
