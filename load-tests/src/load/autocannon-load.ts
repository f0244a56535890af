import autocannon from 'autocannon';
import type { RequestShape } from '../system/http-probe.js';
import { LatencyRecorder } from './latency-recorder.js';
import type { LoadResult } from './load-result.js';

export type AutocannonPlan = {
  baseUrl: string;
  /** Sent in turn by every connection; a shape's `unique` makes its path unique per request (misses). */
  shapes: readonly (RequestShape & { unique?: boolean })[];
  connections: number;
  durationSeconds: number;
};

/**
 * Runs autocannon in this process (pinned to the generator's CPU by the runner) and returns exact status
 * counts and sub-millisecond latency percentiles, recorded from its `response` events (its own histogram
 * counts whole milliseconds). Bounded by `durationSeconds`; socket errors and timeouts are counted, never
 * thrown.
 */
export async function runAutocannon(plan: AutocannonPlan): Promise<LoadResult> {
  const latencies = new LatencyRecorder();
  let uniqueCounter = 0;
  const requests = plan.shapes.map((shape) => {
    const request: autocannon.Request = {
      method: shape.method ?? 'GET',
      path: shape.path,
      headers: { Host: shape.host, ...shape.headers },
    };
    if (shape.body !== undefined) request.body = shape.body;
    if (shape.unique === true) {
      request.setupRequest = (built) => ({
        ...built,
        path: `${shape.path}${process.pid}-${uniqueCounter++}`,
      });
    }
    return request;
  });
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = {
      url: plan.baseUrl,
      connections: plan.connections,
      duration: plan.durationSeconds,
      requests,
      timeout: 10,
    };
    const instance = autocannon(options, (error, finished) => (error ? reject(error) : resolve(finished)));
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => latencies.record(responseTimeMs));
  });
  const statusCounts: Record<string, number> = {};
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) {
    statusCounts[status] = stats.count ?? 0;
  }
  const responses = Object.values(statusCounts).reduce((sum, count) => sum + count, 0);
  const [p50Ms = Number.NaN, p99Ms = Number.NaN] = latencies.percentiles(50, 99);
  return {
    tool: 'autocannon',
    requests: responses,
    durationSeconds: result.duration,
    requestsPerSecond: responses / result.duration,
    bytesPerSecond: result.throughput.total / result.duration,
    p50Ms,
    p99Ms,
    socketErrors: result.errors,
    statusCounts,
  };
}
