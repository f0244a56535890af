import { Pool } from 'undici';
import type { RunningEdge } from './edge.js';

// Evidence that an audit log's in-force instant holds: traffic running while a change is made, and the
// requests the node served although they were decided after the instant it recorded.

/**
 * Back-to-back GETs of `host` from a client at `ip` on `connections` keep-alive connections (so every
 * worker of a cluster gets some) until `stop()`. A request still open when the change comes into force is
 * cut by the node (runtime/cut-when-blocked.ts): its connection closes, and the loop goes on.
 */
export function keepRequesting(url: string, host: string, ip: string, connections = 8) {
  const pool = new Pool(url, { connections, pipelining: 1 });
  let stopping = false;
  const loops = Array.from({ length: connections }, async () => {
    while (!stopping) {
      try {
        const response = await pool.request({
          path: '/',
          method: 'GET',
          headers: { host, 'x-forwarded-for': ip },
        });
        await response.body.dump();
      } catch (error) {
        if ((error as { code?: string }).code !== 'UND_ERR_SOCKET') throw error;
      }
    }
  });
  return {
    async stop() {
      stopping = true;
      await Promise.all(loops);
      await pool.close();
    },
  };
}

/**
 * Requests for `host` the node answered 200 although they were decided more than `slackMs` after
 * `instant`. A request is decided right after it arrives: its log line's time minus its duration (a
 * little earlier than the decision itself, which only favours the node; the slack covers the log's
 * millisecond rounding).
 */
export function servedAfter(edge: RunningEdge, host: string, instant: string, slackMs = 5) {
  const at = Date.parse(instant);
  if (Number.isNaN(at)) throw new Error(`expected an instant, got ${JSON.stringify(instant)}`);
  return edge.logs().flatMap((line) => {
    if (line.host !== host || line.status !== 200) return [];
    const decidedAt = Date.parse(String(line.time)) - Number(line.duration_ms);
    return decidedAt > at + slackMs ? [{ pid: line.pid, msAfter: Math.round(decidedAt - at) }] : [];
  });
}
