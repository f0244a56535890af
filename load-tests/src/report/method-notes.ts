import type { BenchOptions } from '../options.js';
import type { Pinning } from '../system/pinning.js';

/** How the figures were taken: the fixed part of the report's method section. */
export function methodNotes(options: BenchOptions, pinning: Pinning): string[] {
  return [
    `**Pinning**: ${pinning.note}. edge451 \`workers: auto\` runs on every core, so on a 2-core machine it shares a core with the load generator; its figures are a lower bound there.`,
    `**Rounds**: each scenario runs ${options.rounds} round(s) of ${options.durationSeconds} s per candidate, candidates back to back within a round (order rotated), after a status check and a ${options.warmupSeconds} s warm-up that also fills caches. Figures are medians over rounds; ratios are medians of per-round ratios, so drift between rounds cancels out. ${options.connections} connections.`,
    '**Statuses are verified**: before every measured run one request must get the status due (a 200 where a 451 was due is an error, not throughput), cache-hit scenarios also check the cache header says hit, and after the run every response is counted by status (autocannon: exact codes; wrk: 2xx/3xx against the rest). A run with a wrong status is void (no figures) and its problem is listed under the table; the **errors** column counts socket errors and timeouts.',
    "**CPU µs/req** is the server process tree's user+system CPU (from `/proc/PID/stat`, workers included) over responses. It stays meaningful when the load generator, not the server, is the limit; **server CPU** is that CPU per wall second (100 % = one core busy).",
    "**Tools**: autocannon saturates its own core first (roughly 30–60 k small responses/s), so fast paths are also measured with wrk (`-t1`, `Host` header capitalised); targets use wrk's ratio when it ran. Latencies are recorded per response at full resolution (autocannon's own histogram counts whole milliseconds).",
    '**Logging**: edge451 runs with `log: { level: warn }`. Blocked requests are always logged at info (they are the evidence of enforcement); at info, a 451 benchmark would mostly measure pino writing lines.',
    '**Mixed load**: 1,000 request shapes, each with its own client address (9 countries and private ranges), via X-Forwarded-For trusted from loopback: single-IP load keeps every geo cache warm. Misses are unique URLs whose responses carry no freshness, so the cache does not keep them and its size stays steady during the soak.',
    '**nginx** (when installed) does the same job: geoip2 on the X-Forwarded-For client, a `map` of blocked hosts answering 451, `proxy_cache` keyed on scheme+host+URI (its default key ignores Host), keep-alive upstream, `worker_processes 1`, access log off. `proxy_cache_lock` is on for the storm URLs only: on every path it queues requests to uncacheable URLs behind the one in flight.',
    "**naive proxy**: `http-proxy` with a keep-alive agent, `maxmind` lookup of the X-Forwarded-For client, a `Set` of blocked hosts; no cache. **bare node:http** returns ready buffers with the same bodies (and edge451's own 451 bytes). **origin direct** is the origin process on the server's core.",
  ];
}
