import type { Candidate } from '../candidates/candidate.js';
import type { LoadResult } from '../load/load-result.js';
import { checkStatuses, type StatusExpectation } from '../load/status-check.js';
import { probe, type RequestShape } from '../system/http-probe.js';
import { sampleProcessTree } from '../system/process-tree.js';

/** A request shape with the status a blocking candidate must answer. */
export type ExpectedShape = RequestShape & { status: number; unique?: boolean };

/** One measured run of one candidate, with what its process tree spent. */
export type MeasuredRun = {
  load: LoadResult;
  /** Server CPU (user + system, whole process tree) per response, in microseconds; NaN without /proc. */
  cpuMicrosPerRequest: number;
  /** Server CPU seconds per wall second (1 = one core busy): near 1 means the server was the limit. */
  serverCpuCores: number;
  rssBytes: number;
  /** Wrong statuses or socket errors: a run with problems gives no figures. */
  problems: string[];
};

/**
 * Sends each shape once (unique shapes get a fresh path) and checks the status, and with `cacheHit` that
 * the candidate's cache header says hit. Returns the problems; empty means the candidate may be measured.
 */
export async function verifyShapes(
  candidate: Candidate,
  shapes: readonly ExpectedShape[],
  { cacheHit = false }: { cacheHit?: boolean } = {},
): Promise<string[]> {
  const problems: string[] = [];
  for (const shape of shapes) {
    const sent = shape.unique === true ? { ...shape, path: `${shape.path}verify-${Date.now()}` } : shape;
    try {
      const response = await probe(candidate.url, sent);
      if (response.status !== shape.status) {
        problems.push(`${sent.host}${sent.path} answered ${response.status}, expected ${shape.status}`);
        continue;
      }
      const header = candidate.cacheHeader;
      if (cacheHit && header !== undefined) {
        const value = String(response.headers[header.name] ?? '');
        if (!header.hitPattern.test(value))
          problems.push(`${sent.path} was not a cache hit (${header.name}: ${value})`);
      }
    } catch (error) {
      problems.push(`${sent.host}${sent.path}: ${(error as Error).message}`);
    }
    if (problems.length >= 3) break;
  }
  return problems;
}

/**
 * Runs `load` against a candidate and samples its process tree before and after, then checks every
 * response's status against `expected`. CPU per request is the tree's CPU time over responses received.
 */
export async function measureRun(
  candidate: Candidate,
  load: () => Promise<LoadResult>,
  expected: StatusExpectation,
): Promise<MeasuredRun> {
  const before = sampleProcessTree(candidate.pid);
  const result = await load();
  const after = sampleProcessTree(candidate.pid);
  const cpuSeconds =
    before !== undefined && after !== undefined ? after.cpuSeconds - before.cpuSeconds : Number.NaN;
  const problems = checkStatuses(result.statusCounts, expected);
  if (result.socketErrors > 0) problems.push(`${result.socketErrors} socket errors or timeouts`);
  if ((result.unsent ?? 0) > 0)
    problems.push(
      `${result.unsent} requests not sent: the client's queue was full (a stall of a second or more)`,
    );
  return {
    load: result,
    cpuMicrosPerRequest: result.requests > 0 ? (cpuSeconds * 1e6) / result.requests : Number.NaN,
    serverCpuCores: cpuSeconds / result.durationSeconds,
    rssBytes: after?.rssBytes ?? Number.NaN,
    problems,
  };
}

/** What a run over `shapes` must answer: one status, or each status's share of the cycle. */
export function expectationFor(shapes: readonly ExpectedShape[]): StatusExpectation {
  const counts = new Map<number, number>();
  for (const shape of shapes) counts.set(shape.status, (counts.get(shape.status) ?? 0) + 1);
  if (counts.size === 1) return { only: [...counts.keys()] };
  const shares: Record<number, number> = {};
  for (const [status, count] of counts) shares[status] = count / shapes.length;
  // Connections start at the same shape and stop mid-cycle: allow one point of drift.
  return { shares, tolerance: 0.01 };
}

/**
 * Sends every non-unique shape once (16 at a time) so that a cached URL is cached before measuring:
 * closed-loop tools only reach the first few hundred shapes of a long list during a short warm-up.
 */
export async function warmShapes(candidate: Candidate, shapes: readonly ExpectedShape[]): Promise<void> {
  const pending = shapes.filter((shape) => shape.unique !== true);
  const worker = async () => {
    for (let shape = pending.pop(); shape !== undefined; shape = pending.pop()) {
      await probe(candidate.url, shape).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}
