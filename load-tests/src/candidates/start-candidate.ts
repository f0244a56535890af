import { fileURLToPath } from 'node:url';
import { probe } from '../system/http-probe.js';
import { type Launched, launch } from '../system/launch.js';
import type { Pinning } from '../system/pinning.js';
import { loadTestsDir, tsScriptCommand } from '../system/ts-script.js';

/** The built edge451 CLI that `pnpm bench` builds first. */
export const edgeCli = fileURLToPath(new URL('../../../packages/edge/dist/cli/main.js', import.meta.url));

/** How to run a server: node flags, a wrapper program (launch.ts) and how long it may take to come up. */
export type StartOptions = {
  extraNodeArgs?: readonly string[];
  wrapper?: readonly string[];
  timeoutMs?: number;
};

/**
 * Runs one of this package's TypeScript servers (origin, bare, naive proxy) as its own process and waits
 * for its `{"ready":true,"url":…}` line (bounded: 30 s unless `timeoutMs` says otherwise).
 */
export async function startScript(
  name: string,
  script: string,
  args: readonly string[],
  cpus: string,
  pinning: Pinning,
  { extraNodeArgs = [], wrapper, timeoutMs = 30_000 }: StartOptions = {},
): Promise<{ url: string; launched: Launched }> {
  const file = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const launched = launch({ name, ...tsScriptCommand(file, args, extraNodeArgs), cpus, wrapper }, pinning);
  const line = await launched.waitForLine((text) => text.includes('"ready":true'), timeoutMs);
  const { url } = JSON.parse(line) as { url: string };
  return { url, launched };
}

/**
 * Starts `edge451 start --config FILE` and waits until its admin `/readyz` answers 200. The ready log line
 * is at info, which benchmark configs silence, hence the probe. Resolves with the milliseconds from spawn
 * to ready (the scale scenario's startup time); rejects if the process exits or `timeoutMs` passes.
 */
export async function startEdge(
  name: string,
  configFile: string,
  adminUrl: string,
  cpus: string,
  pinning: Pinning,
  { timeoutMs = 60_000, extraNodeArgs = [], wrapper }: StartOptions = {},
): Promise<{ launched: Launched; readyMs: number }> {
  const started = performance.now();
  const launched = launch(
    {
      name,
      command: process.execPath,
      args: [...extraNodeArgs, edgeCli, 'start', '--config', configFile],
      cpus,
      cwd: loadTestsDir,
      wrapper,
    },
    pinning,
  );
  await waitReady(launched, name, timeoutMs, async () => {
    const response = await probe(adminUrl, { path: '/readyz', host: 'localhost' }, { timeoutMs: 2000 });
    return response.status === 200;
  });
  return { launched, readyMs: performance.now() - started };
}

/** Starts nginx in the foreground with its own prefix and error log, and waits until it answers. */
export async function startNginx(
  nginxPath: string,
  configFile: string,
  prefixDir: string,
  url: string,
  cpus: string,
  pinning: Pinning,
  timeoutMs = 60_000,
): Promise<{ launched: Launched; readyMs: number }> {
  const started = performance.now();
  const launched = launch(
    {
      name: 'nginx',
      command: nginxPath,
      args: ['-c', configFile, '-p', prefixDir, '-e', `${prefixDir}/error.log`],
      cpus,
    },
    pinning,
  );
  await waitReady(launched, 'nginx', timeoutMs, async () => {
    await probe(url, { path: '/', host: 'localhost' }, { timeoutMs: 2000 });
    return true;
  });
  return { launched, readyMs: performance.now() - started };
}

/** Polls `check` every 20 ms until it is true; fails at once if the process exits, or after `timeoutMs`. */
async function waitReady(launched: Launched, name: string, timeoutMs: number, check: () => Promise<boolean>) {
  const started = performance.now();
  let lastProblem = 'no answer yet';
  while (performance.now() - started < timeoutMs) {
    if (launched.child.exitCode !== null || launched.child.signalCode !== null) {
      throw new Error(`${name} exited while starting; output:\n${launched.output()}`);
    }
    try {
      if (await check()) return;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await launched.stop('SIGKILL');
  throw new Error(`${name} not ready within ${timeoutMs} ms (${lastProblem}); output:\n${launched.output()}`);
}
