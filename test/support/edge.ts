import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { stringify } from 'yaml';

/** The built CLI: end-to-end tests run the real `edge451` binary (`pnpm test` builds first). */
export const edgeBinary = fileURLToPath(new URL('../../packages/edge/dist/cli/main.js', import.meta.url));
export const geoFixtures = fileURLToPath(new URL('../../fixtures/geoip/', import.meta.url));
/** MaxMind's test database: 2a02:cfc0::1 FR, 81.2.69.160 GB, 216.160.83.56 US, 2.125.160.216 GB. */
export const countryTestDatabase = join(geoFixtures, 'GeoIP2-Country-Test.mmdb');

export const adminToken = 'test-admin-token-0123456789';

export type RunningEdge = {
  url: string;
  adminUrl: string;
  dir: string;
  configFile: string;
  process: ChildProcess;
  /** Every stdout line so far (pino JSON). */
  logs: () => Record<string, unknown>[];
  stderr: () => string;
  /** Waits for a log line matching the predicate. */
  waitForLog: (
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ) => Promise<Record<string, unknown>>;
  /**
   * Waits until `count` log lines match, and returns every match so far. A response reaches the test
   * before the edge's line for it crosses the stdout pipe, so counting lines right after an answer races.
   */
  waitForLogs: (
    predicate: (line: Record<string, unknown>) => boolean,
    count: number,
    timeoutMs?: number,
  ) => Promise<Record<string, unknown>[]>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
};

/** Writes files into a fresh temporary folder; returns the folder. */
export async function tempDir(files: Record<string, string | object> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edge451-test-'));
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), typeof content === 'string' ? content : stringify(content));
  }
  return dir;
}

/**
 * A config for tests: listeners on free ports, the MaxMind test database, one admin token.
 * `overrides` replace top-level keys.
 */
export function testConfig(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'compliance', token: adminToken }] },
    geoip: { database: countryTestDatabase },
    legal: { blockedBy: 'https://edge.example/legal', contact: 'legal@edge.example' },
    log: { level: 'info' },
    ...overrides,
  };
}

export type CliResult = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
};

/**
 * Runs `edge451 <args>` to completion with extra environment variables. A command that has not exited
 * within `timeoutMs` is killed and reported with `signal: 'SIGKILL'` instead of hanging the suite.
 */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 15_000,
): Promise<CliResult> {
  const child = spawn(process.execPath, [edgeBinary, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  return { code, signal, stdout, stderr };
}

/**
 * Starts the real binary with `config` (written to a temp folder with `files` beside it) and waits for
 * its "edge451 ready" line. Killed when the test finishes.
 */
export async function startEdge(
  config: Record<string, unknown>,
  files: Record<string, string | object> = {},
  options: { dir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningEdge> {
  const dir = options.dir ?? (await tempDir(files));
  if (options.dir !== undefined) {
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(dir, name), typeof content === 'string' ? content : stringify(content));
    }
  }
  const configFile = join(dir, 'edge451.yaml');
  await writeFile(configFile, stringify(config));
  const child = spawn(process.execPath, [edgeBinary, 'start', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{
    predicate: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }> = [];
  let partial = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const text of complete) {
      if (text.trim() === '') continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    const found = lines.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`edge451 exited with ${code} before the expected log line; stderr: ${stderr}`));
      });
    });
  };

  const waitForLogs = async (
    predicate: (line: Record<string, unknown>) => boolean,
    count: number,
    timeoutMs = 10_000,
  ) => {
    const matching = () => lines.filter(predicate);
    // Called as each line arrives, after it is stored.
    const enough = () => matching().length >= count;
    if (!enough()) {
      await waitForLog(enough, timeoutMs).catch((error: Error) => {
        throw new Error(`${matching().length} of ${count} expected log lines: ${error.message}`);
      });
    }
    return matching();
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });

  const ready = await waitForLog((line) => line.msg === 'edge451 ready');
  return {
    url: String(ready.listen),
    adminUrl: String(ready.admin),
    dir,
    configFile,
    process: child,
    logs: () => lines,
    stderr: () => stderr,
    waitForLog,
    waitForLogs,
    stop,
  };
}

/** SIGHUP, then waits for this reload's `reloaded` line (not an earlier one). */
export async function reloadEdge(edge: RunningEdge): Promise<void> {
  const isReloaded = (line: Record<string, unknown>) => line.msg === 'reloaded';
  const seen = new Set(edge.logs().filter(isReloaded));
  edge.process.kill('SIGHUP');
  await edge.waitForLog((line) => isReloaded(line) && !seen.has(line));
}
