import type { Launched } from '../system/launch.js';

/**
 * Every server the benchmark can measure. `upstream` is the origin the proxies front, on the load
 * generator's core, and `relay` a bare TCP relay in front of it on the server's core: neither is in the
 * throughput tables; they are the baseline of added latency through a proxy, and the hop's own share of it.
 * `floor` is the least proxy on edge451's stack (undici-floor.ts), beside edge451 on every pass-through.
 */
export type CandidateId =
  | 'origin'
  | 'upstream'
  | 'relay'
  | 'bare'
  | 'floor'
  | 'edge-1'
  | 'edge-auto'
  | 'naive'
  | 'nginx';

/** A running candidate: where to send load and which process tree to sample. */
export type Candidate = {
  id: CandidateId;
  url: string;
  /** The root of the process tree whose CPU and RSS are sampled (a cluster primary, nginx's master). */
  pid: number;
  /** Answers 451 to blocked requests (origin direct does not). */
  blocks: boolean;
  /** Serves repeated cacheable requests from a cache; checked with `cacheHeader` before cache-hit runs. */
  cacheHeader?: { name: string; hitPattern: RegExp };
  adminUrl?: string;
  launched: Launched;
};

/** The candidate for a server this package started and waited for (a script of its own, or edge451). */
export function scriptCandidate(
  id: CandidateId,
  { url, launched }: { url: string; launched: Launched },
  blocks: boolean,
): Candidate {
  return { id, url, pid: launched.pid, blocks, launched };
}

/** How each candidate is named in tables and charts. */
export const candidateLabels: Record<CandidateId, string> = {
  origin: 'origin direct (ceiling)',
  upstream: "the proxies' origin, direct",
  relay: 'TCP relay (the hop alone)',
  bare: 'bare node:http (baseline)',
  floor: 'node:http + undici, nothing else (floor)',
  'edge-1': 'edge451 workers: 1',
  'edge-auto': 'edge451 workers: auto',
  naive: 'naive http-proxy + maxmind',
  nginx: 'nginx + geoip2 + proxy_cache',
};

/** Table and chart order: baselines first, then edge451, then the alternatives. */
export const candidateOrder: readonly CandidateId[] = [
  'origin',
  'bare',
  'floor',
  'edge-1',
  'edge-auto',
  'naive',
  'nginx',
];
