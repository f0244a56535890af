import type { Readable } from 'node:stream';
import type { CancelSignal } from '@edge451/cache';
import { errors } from 'undici';
import type { Site } from '../lifecycle/route.js';
import { QueueTimedPool } from './queue-timed-pool.js';

/** An origin's answer, body still streaming. */
export type OriginResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
};

export type OriginRequest = {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Readable | null;
  signal: CancelSignal;
};

/**
 * One keep-alive undici Pool per site of `connections` connections, created lazily, destroyed together on
 * shutdown. A request finding them all busy waits at most the site's `queueMs` for one (queue-timed-pool.ts).
 */
export class OriginPools {
  private readonly pools = new Map<Site, QueueTimedPool>();

  /** Sends one request to the site's origin. Rejects with undici's error (see `toEdgeError`). */
  async request(site: Site, request: OriginRequest): Promise<OriginResponse> {
    const response = await this.poolFor(site).request({
      method: request.method as 'GET',
      path: request.path,
      headers: request.headers,
      body: request.body,
      // undici types `signal` as an AbortSignal or EventEmitter, but it only reads `aborted` and `reason`
      // and calls add/removeEventListener (util.addAbortListener, api/abort-signal.js): a Cancellation
      // is enough, and is what the edge passes (see client-abort.ts for why not an AbortSignal).
      signal: request.signal as AbortSignal,
    });
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  /** Stops at once, failing in-flight requests and those waiting for a connection (end of a drain deadline). */
  async destroy(): Promise<void> {
    await Promise.all(
      [...this.pools.values()].map((pool) => {
        // As undici fails the requests of its own queue when destroyed.
        pool.failWaiting(new errors.ClientDestroyedError());
        return pool.destroy();
      }),
    );
    this.pools.clear();
  }

  private poolFor(site: Site): QueueTimedPool {
    let pool = this.pools.get(site);
    if (pool === undefined) {
      const { timeouts, connections } = site.config;
      const options = {
        connections,
        connectTimeout: timeouts.connectMs,
        headersTimeout: timeouts.headersMs,
        bodyTimeout: timeouts.bodyMs,
      };
      pool = new QueueTimedPool(site.origin.origin, options, timeouts.queueMs);
      this.pools.set(site, pool);
    }
    return pool;
  }
}
