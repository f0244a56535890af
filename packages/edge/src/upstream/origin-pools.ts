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
  /** An undefined value is no field: undici leaves it out (core/request.js, `processHeader`). */
  headers: Record<string, string | string[] | undefined>;
  body: Readable | null;
  signal: CancelSignal;
};

/**
 * One keep-alive undici Pool per site of `connections` connections, created lazily, destroyed together on
 * shutdown. A request finding them all busy waits at most the site's `queueMs` for one (queue-timed-pool.ts).
 *
 * A reload builds new Site objects. A site whose name, origin and pool settings are unchanged keeps its pool
 * (its keep-alive connections, and one `connections` limit, not two while old and new requests overlap);
 * the pool of a site the reload removed or changed is closed once its last request is done. Before, each
 * SIGHUP left every site's old pool behind, for good.
 */
export class OriginPools {
  private pools = new Map<Site, QueueTimedPool>();
  private readonly bySettings = new Map<string, QueueTimedPool>();

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

  /**
   * The sites of the config now in force (at start-up and after each reload): their pools are kept, the
   * others are closed once idle. A request still under way for a site of the previous config finds its
   * pool by the same settings; one whose site changed gets a pool that the next reload closes.
   */
  useSites(sites: readonly Site[]): void {
    const inUse = new Set(sites.map(settingsOf));
    for (const [settings, pool] of this.bySettings) {
      if (inUse.has(settings)) continue;
      this.bySettings.delete(settings);
      pool.closeWhenIdle();
    }
    this.pools = new Map();
  }

  private poolFor(site: Site): QueueTimedPool {
    let pool = this.pools.get(site);
    if (pool === undefined) {
      const settings = settingsOf(site);
      pool = this.bySettings.get(settings) ?? newPool(site);
      this.bySettings.set(settings, pool);
      this.pools.set(site, pool);
    }
    return pool;
  }
}

function newPool(site: Site): QueueTimedPool {
  const { timeouts, connections } = site.config;
  const options = {
    connections,
    connectTimeout: timeouts.connectMs,
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
  };
  return new QueueTimedPool(site.origin.origin, options, timeouts.queueMs);
}

/** What makes two Site objects (of two configs) the same pool: the site, its origin and the pool's settings. */
function settingsOf(site: Site): string {
  const { timeouts, connections } = site.config;
  return JSON.stringify([site.name, site.origin.origin, connections, timeouts]);
}
