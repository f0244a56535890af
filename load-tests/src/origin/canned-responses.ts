/** A ready-made response: status, headers and body bytes, built once and sent as is. */
export type Canned = { status: number; headers: Record<string, string>; body: Buffer };

/** How the origin answers a family of paths: an exact path, or every path under a prefix. */
type Route = { match: 'exact' | 'prefix'; path: string; canned: Canned; delayMs?: number };

const KiB = 1024;
const MiB = 1024 * KiB;

/** Deterministic printable filler, so every candidate returns byte-identical bodies. */
export function fillerBody(bytes: number): Buffer {
  const pattern = Buffer.from('edge451 benchmark body / ');
  const body = Buffer.alloc(bytes);
  for (let offset = 0; offset < bytes; offset += pattern.length) pattern.copy(body, offset);
  return body;
}

const cacheable = (bytes: number): Canned => ({
  status: 200,
  headers: {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'public, max-age=3600',
    'Content-Length': String(bytes),
  },
  body: fillerBody(bytes),
});

const noStore = (bytes: number): Canned => ({
  status: 200,
  headers: {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': String(bytes),
  },
  body: fillerBody(bytes),
});

// No Cache-Control, Expires, Last-Modified or ETag: storable but with no freshness and no validator, so a
// shared cache does not keep it (a dynamic page). Mixed-load misses use it so the cache's size stays
// steady during the soak instead of growing towards its bound.
const noFreshness = (bytes: number): Canned => ({
  status: 200,
  headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(bytes) },
  body: fillerBody(bytes),
});

/** Paths the benchmark requests, shared by the origin, the bare server and the scenarios. */
export const benchPaths = {
  hit1k: '/hit-1k',
  hit16k: '/hit-16k',
  large1m: '/large-1m',
  pass1k: '/pass-1k',
  pass1m: '/pass-1m',
  missPrefix: '/miss-',
  stormPrefix: '/storm/',
  blocked: '/blocked-page',
} as const;

/** The origin's slow path: long enough that every request of a storm arrives while the first is in flight. */
export const stormDelayMs = 200;

const routes: readonly Route[] = [
  { match: 'exact', path: benchPaths.hit1k, canned: cacheable(KiB) },
  { match: 'exact', path: benchPaths.hit16k, canned: cacheable(16 * KiB) },
  { match: 'exact', path: benchPaths.large1m, canned: cacheable(MiB) },
  { match: 'exact', path: benchPaths.pass1k, canned: noStore(KiB) },
  { match: 'exact', path: benchPaths.pass1m, canned: noStore(MiB) },
  { match: 'exact', path: benchPaths.blocked, canned: cacheable(KiB) },
  { match: 'prefix', path: benchPaths.missPrefix, canned: noFreshness(KiB) },
  { match: 'prefix', path: benchPaths.stormPrefix, canned: cacheable(KiB), delayMs: stormDelayMs },
];

/**
 * The origin's answer for a request target (query ignored), with its delay; undefined for unknown paths,
 * which the origin answers 404 so a typo in a scenario shows up as a status error, not as throughput.
 */
export function originRoute(target: string): { canned: Canned; delayMs: number } | undefined {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  for (const route of routes) {
    const matches = route.match === 'exact' ? path === route.path : path.startsWith(route.path);
    if (matches) return { canned: route.canned, delayMs: route.delayMs ?? 0 };
  }
  return undefined;
}
