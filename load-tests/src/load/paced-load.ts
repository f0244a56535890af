import { Agent, request } from 'node:http';
import { type RequestShape, shapeRequestOptions } from '../system/http-probe.js';
import { LatencyRecorder } from './latency-recorder.js';
import type { LoadResult } from './load-result.js';

export type PacedPlan = {
  baseUrl: string;
  shapes: readonly RequestShape[];
  ratePerSecond: number;
  /** Measured seconds, after the warm-up. */
  durationSeconds: number;
  /**
   * Seconds paced at the same rate before measuring: connections open and both sides' JIT warms up. Those
   * first requests would otherwise own the p99 (a bare server paced at 5,000 req/s read p99 70 ms with
   * them, 2–3 ms without). Their statuses and errors still count. Default 1.
   */
  warmupSeconds?: number;
  connections: number;
};

const drainTimeoutMs = 10_000;

/**
 * An open-loop load at a constant rate, for latency at a given load (autocannon's rate limit sends each
 * second's requests in one burst, and wrk has none). Request n is due at start + n / rate; its latency is
 * measured from that due time, not from when a connection was free, so queueing inside the client counts
 * (no coordinated omission), and how late it left the client is reported as `sendLagP99Ms`. Bounded: at
 * most rate × (warm-up + duration) requests, and at most 64 waiting per connection — beyond that requests
 * are counted as `unsent`, not queued forever.
 */
export async function runPaced(plan: PacedPlan): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.connections });
  const url = new URL(plan.baseUrl);
  const latencies = new LatencyRecorder();
  const sendLags = new LatencyRecorder();
  const statusCounts: Record<string, number> = {};
  const warmupRequests = Math.floor(plan.ratePerSecond * (plan.warmupSeconds ?? 1));
  const total = warmupRequests + Math.floor(plan.ratePerSecond * plan.durationSeconds);
  const maxInFlight = plan.connections * 64;
  let sent = 0;
  let inFlight = 0;
  let errors = 0;
  let unsent = 0;
  let bytes = 0;
  let measuredResponses = 0;
  const started = performance.now();
  const measuredFrom = started + (warmupRequests * 1000) / plan.ratePerSecond;

  const send = (index: number) => {
    const shape = plan.shapes[index % plan.shapes.length];
    if (shape === undefined) return;
    const dueAt = started + (index * 1000) / plan.ratePerSecond;
    const measured = index >= warmupRequests;
    if (measured) sendLags.record(performance.now() - dueAt);
    inFlight++;
    const req = request(shapeRequestOptions(url, shape, agent, 10_000), (res) => {
      res.on('data', (chunk: Buffer) => {
        if (measured) bytes += chunk.length;
      });
      res.on('end', () => {
        inFlight--;
        if (measured) {
          latencies.record(performance.now() - dueAt);
          measuredResponses++;
        }
        const status = String(res.statusCode ?? 0);
        statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      inFlight--;
      errors++;
    });
    req.end();
  };

  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * plan.ratePerSecond) / 1000));
      while (sent < due) {
        if (inFlight >= maxInFlight) unsent++;
        else send(sent);
        sent++;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const drainStarted = performance.now();
  while (inFlight > 0 && performance.now() - drainStarted < drainTimeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  agent.destroy();
  const durationSeconds = (performance.now() - measuredFrom) / 1000;
  const [p50Ms = Number.NaN, p99Ms = Number.NaN] = latencies.percentiles(50, 99);
  const [sendLagP99Ms = Number.NaN] = sendLags.percentiles(99);
  return {
    tool: 'paced',
    requests: measuredResponses,
    durationSeconds,
    requestsPerSecond: measuredResponses / durationSeconds,
    bytesPerSecond: bytes / durationSeconds,
    p50Ms,
    p99Ms,
    socketErrors: errors + inFlight,
    statusCounts,
    sendLagP99Ms,
    unsent,
  };
}
