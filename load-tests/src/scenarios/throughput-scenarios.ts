import { benchHost, blockedHost, blockedShape } from '../candidates/bench-world.js';
import type { ScenarioId } from '../options.js';
import { benchPaths } from '../origin/canned-responses.js';
import { allowedPools, blockedPools, clientAddress } from './client-addresses.js';
import type { ExpectedShape } from './measure.js';
import type { ThroughputScenario } from './throughput.js';

const usClient = { 'X-Forwarded-For': clientAddress('US', 7) };
const allowed200 = (path: string): ExpectedShape => ({
  path,
  host: benchHost,
  headers: usClient,
  status: 200,
});

/**
 * 90 % hits over 50 URLs, 5 % misses (unique URLs the cache cannot keep), 5 % blocked, interleaved so any
 * stretch of 20 requests has the same mix; 1,000 shapes, each with its own client address, from nine
 * countries plus private (unknown-country) addresses. Blocked requests come from FR and GB clients.
 */
export function mixShapes(count = 1000): ExpectedShape[] {
  const shapes: ExpectedShape[] = [];
  for (let n = 0; n < count; n++) {
    const slot = n % 20;
    if (slot === 0) {
      const client = clientAddress(allowedPools[n % allowedPools.length] ?? 'US', n);
      shapes.push({
        path: benchPaths.missPrefix,
        unique: true,
        host: benchHost,
        headers: { 'X-Forwarded-For': client },
        status: 200,
      });
    } else if (slot === 10) {
      const client = clientAddress(blockedPools[n % blockedPools.length] ?? 'GB', n);
      shapes.push({
        path: benchPaths.blocked,
        host: blockedHost(n % 100),
        headers: { 'X-Forwarded-For': client },
        status: 451,
      });
    } else {
      const pool =
        n % 3 === 0 ? blockedPools[n % blockedPools.length] : allowedPools[n % allowedPools.length];
      const client = clientAddress(pool ?? 'US', n);
      const path = `${benchPaths.hit1k}?v=${n % 50}`;
      shapes.push({ path, host: benchHost, headers: { 'X-Forwarded-For': client }, status: 200 });
    }
  }
  return shapes;
}

const everyone = ['origin', 'bare', 'edge-1', 'edge-auto', 'naive', 'nginx'] as const;
const blockers = ['bare', 'edge-1', 'edge-auto', 'naive', 'nginx'] as const;
const proxies = ['origin', 'floor', 'edge-1', 'edge-auto', 'naive', 'nginx'] as const;

/** The closed-loop scenarios, grouped under the `--only` names that select them. */
export const throughputScenarios: Partial<Record<ScenarioId, ThroughputScenario[]>> = {
  'cache-hit': [
    {
      id: 'cache-hit-1k',
      title: 'Cache hit, 1 KiB',
      what: 'GET of a 1 KiB `public, max-age=3600` response already in cache, from a US client.',
      shapes: [allowed200(benchPaths.hit1k)],
      candidates: everyone,
      baselines: ['bare', 'origin'],
      wrk: true,
      cacheHit: true,
    },
    {
      id: 'cache-hit-16k',
      title: 'Cache hit, 16 KiB',
      what: 'GET of a 16 KiB cacheable response already in cache.',
      shapes: [allowed200(benchPaths.hit16k)],
      candidates: everyone,
      baselines: ['bare', 'origin'],
      wrk: true,
      cacheHit: true,
    },
  ],
  'pass-through': [
    {
      id: 'pass-through',
      title: 'Pass-through (no-store), 1 KiB',
      what: 'GET of a 1 KiB `no-store` response: every request goes to the origin.',
      shapes: [allowed200(benchPaths.pass1k)],
      candidates: proxies,
      baselines: ['origin', 'naive', 'floor'],
      wrk: true,
    },
  ],
  blocked: [
    {
      id: 'blocked',
      title: 'Blocked (451)',
      what: 'A GB client asks for one of the 1,000 blocked hosts: 451 before cache and origin.',
      shapes: [{ ...blockedShape, status: 451 }],
      candidates: blockers,
      baselines: ['bare'],
      wrk: true,
    },
  ],
  mix: [
    {
      id: 'mix',
      title: 'Realistic mix',
      what: '90 % hits (50 URLs), 5 % misses (unique URLs), 5 % blocked; 1,000 client addresses from 9 countries and private ranges via trusted X-Forwarded-For.',
      shapes: mixShapes(),
      candidates: blockers,
      baselines: ['bare'],
      wrk: false,
    },
  ],
  'large-body': [
    {
      id: 'large-1m-hit',
      title: 'Large body from cache, 1 MiB',
      what: 'GET of a 1 MiB cacheable response already in cache (MB/s).',
      shapes: [allowed200(benchPaths.large1m)],
      candidates: everyone,
      baselines: ['bare'],
      wrk: true,
      cacheHit: true,
    },
    {
      id: 'large-1m-pass',
      title: 'Large body pass-through, 1 MiB',
      what: 'GET of a 1 MiB `no-store` response streamed from the origin (MB/s).',
      shapes: [allowed200(benchPaths.pass1m)],
      candidates: proxies,
      baselines: ['origin', 'naive', 'floor'],
      wrk: true,
    },
  ],
};
