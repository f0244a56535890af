import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Pinning, pinnedCommand } from '../system/pinning.js';
import { tsScriptCommand } from '../system/ts-script.js';
import type { LoadResult } from './load-result.js';
import type { PacedPlan } from './paced-load.js';

const pacedMain = fileURLToPath(new URL('./paced-main.ts', import.meta.url));

/**
 * Runs the paced client (paced-load.ts) in a child process on the generator's CPU. In the bench runner it
 * shared a heap with the scale world and the results, and its request objects, promoted by each scavenge,
 * brought old-space collections of 7–10 ms every second: late sends and a p99 of the client's own. The
 * child has a small heap, and a 64 MiB semi-space so that a request's short-lived objects die young.
 * No memory reducer: ~7 s into every run, with a 7 MB heap, it started a mark-compact in the client (a
 * 9 ms pause and a 7.8 ms step), which made the 50–330 responses that arrived meanwhile late, about as many
 * as the 1 % a p99 is read from, at the same moment of every candidate's run (`--trace-gc` and a timeline
 * of the client; load-tests README). Bounded: killed 30 s after the run should have ended.
 */
export function runPacedInChild(plan: PacedPlan, pinning: Pinning): Promise<LoadResult> {
  const flags = ['--max-semi-space-size=64', '--no-memory-reducer'];
  const script = tsScriptCommand(pacedMain, [JSON.stringify(plan)], flags);
  const { command, args } = pinnedCommand(pinning, pinning.generatorCpus, script.command, script.args);
  const seconds = (plan.warmupSeconds ?? 1) + plan.durationSeconds;
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: script.cwd, timeout: (seconds + 30) * 1000, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`paced client failed: ${error.message}\n${stderr}`));
          return;
        }
        try {
          resolve(parseLoadResult(stdout));
        } catch (parseError) {
          reject(new Error(`paced client printed no result: ${(parseError as Error).message}\n${stdout}`));
        }
      },
    );
  });
}

/** The child's JSON line; JSON has no NaN, so a figure it could not measure comes back as null. */
function parseLoadResult(stdout: string): LoadResult {
  const parsed = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  const revived = Object.fromEntries(
    Object.entries(parsed).map(([key, value]) => [key, value === null ? Number.NaN : value]),
  );
  return revived as LoadResult;
}
