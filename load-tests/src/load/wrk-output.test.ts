import { describe, expect, it } from 'vitest';
import { parseWrkOutput } from './wrk-output.js';

// Captured from wrk 4.1.0 (Debian) against a server answering 451 to every request.
const blockedRun = `Running 1s test @ http://127.0.0.1:18999/x
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.75ms    7.96ms  70.36ms   90.70%
    Req/Sec     6.54k     5.51k   15.38k    70.00%
  Latency Distribution
     50%    1.53ms
     75%    5.22ms
     90%   12.21ms
     99%   44.45ms
  6592 requests in 1.02s, 7.39MB read
  Non-2xx or 3xx responses: 6592
Requests/sec:   6491.92
Transfer/sec:      7.28MB
`;

describe('parseWrkOutput', () => {
  it('reads totals, rate, binary-unit transfer and latency percentiles', () => {
    expect(parseWrkOutput(blockedRun)).toEqual({
      requests: 6592,
      durationSeconds: 1.02,
      requestsPerSecond: 6491.92,
      bytesPerSecond: 7.28 * 2 ** 20,
      p50Ms: 1.53,
      p99Ms: 44.45,
      non2xx3xx: 6592,
      socketErrors: 0,
    });
  });

  it('converts microsecond and second latencies and sums every kind of socket error', () => {
    const text = blockedRun
      .replace('50%    1.53ms', '50%  812.00us')
      .replace('99%   44.45ms', '99%    1.20s')
      .replace('  Non-2xx', '  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx');
    const summary = parseWrkOutput(text);
    expect(summary.p50Ms).toBeCloseTo(0.812, 6);
    expect(summary.p99Ms).toBe(1200);
    expect(summary.socketErrors).toBe(10);
  });

  it('reports no non-2xx responses and NaN percentiles when wrk leaves those lines out', () => {
    const text = blockedRun
      .replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, '')
      .replace(/.*Non-2xx.*\n/, '');
    const summary = parseWrkOutput(text);
    expect(summary.non2xx3xx).toBe(0);
    expect(summary.p50Ms).toBeNaN();
  });

  it('refuses output without a summary instead of reporting zero throughput', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(
      expect.objectContaining({ code: 'BENCH_WRK_OUTPUT_INVALID' }),
    );
  });
});
