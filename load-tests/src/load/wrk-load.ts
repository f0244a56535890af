import { execFile } from 'node:child_process';
import type { RequestShape } from '../system/http-probe.js';
import { type Pinning, pinnedCommand } from '../system/pinning.js';
import type { LoadResult } from './load-result.js';
import { parseWrkOutput } from './wrk-output.js';

export type WrkPlan = {
  wrkPath: string;
  baseUrl: string;
  shape: RequestShape;
  connections: number;
  durationSeconds: number;
  /** Defaults to 1: one thread on the generator's one core. */
  threads?: number;
};

/**
 * Runs wrk against one request shape on the generator's CPU and parses its report. Headers are written
 * with their canonical capitalisation: `-H 'host: x'` in lower case makes wrk send a second Host header.
 * Bounded: wrk stops after `durationSeconds`, and is killed 30 s later if it has not.
 */
export function runWrk(plan: WrkPlan, pinning: Pinning): Promise<LoadResult> {
  const headers = { Host: plan.shape.host, ...plan.shape.headers };
  const args = [
    `-t${plan.threads ?? 1}`,
    `-c${plan.connections}`,
    `-d${plan.durationSeconds}s`,
    '--latency',
    // wrk's default 2 s timeout counts a slow answer as an error; autocannon's runs use 10 s too.
    '--timeout',
    '10s',
    ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    new URL(plan.shape.path, plan.baseUrl).href,
  ];
  const { command, args: pinnedArgs } = pinnedCommand(pinning, pinning.generatorCpus, plan.wrkPath, args);
  return new Promise((resolve, reject) => {
    execFile(
      command,
      pinnedArgs,
      { timeout: (plan.durationSeconds + 30) * 1000, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
          return;
        }
        try {
          const summary = parseWrkOutput(stdout);
          resolve({
            tool: 'wrk',
            requests: summary.requests,
            durationSeconds: summary.durationSeconds,
            requestsPerSecond: summary.requestsPerSecond,
            bytesPerSecond: summary.bytesPerSecond,
            p50Ms: summary.p50Ms,
            p99Ms: summary.p99Ms,
            socketErrors: summary.socketErrors,
            statusCounts: { '2xx-3xx': summary.requests - summary.non2xx3xx, other: summary.non2xx3xx },
          });
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}
