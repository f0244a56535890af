import type { Readable } from 'node:stream';
import type { CancelSignal } from '@edge451/cache';
import { Pool } from 'undici';
import type { Site } from '../lifecycle/route.js';

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

/** One keep-alive undici Pool per site, created lazily, closed together on shutdown. */
export class OriginPools {
  private readonly pools = new Map<Site, Pool>();

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

  /** Waits for in-flight requests, then closes every connection. */
  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    this.pools.clear();
  }

  /** Stops at once, failing in-flight requests (end of a drain deadline). */
  async destroy(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
    this.pools.clear();
  }

  private poolFor(site: Site): Pool {
    let pool = this.pools.get(site);
    if (pool === undefined) {
      const { timeouts, connections } = site.config;
      pool = new Pool(site.origin.origin, {
        connections,
        connectTimeout: timeouts.connectMs,
        headersTimeout: timeouts.headersMs,
        bodyTimeout: timeouts.bodyMs,
      });
      this.pools.set(site, pool);
    }
    return pool;
  }
}
