import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blockedCountries } from '../scenarios/client-addresses.js';
import { freePort } from '../system/http-probe.js';
import type { Pinning } from '../system/pinning.js';
import type { Tools } from '../system/tools.js';
import type { Candidate } from './candidate.js';
import { nginxBlockedHostsMap, renderNginxConfig } from './nginx-config.js';
import { startNginx } from './start-candidate.js';

export type BenchNginx = { candidate: Candidate; readyMs: number; mapFile: string };

/**
 * Writes nginx's config and blocked-hosts map into `dir` and starts it on the server's CPU with one worker
 * (as edge451 `workers: 1`). `serverNames` gives one server block per site; the 451 body is `bodyBytes`
 * long, like edge451's, with `blockedFields`. Throws if nginx refuses the config or does not answer within
 * `timeoutMs`.
 */
export async function startBenchNginx(options: {
  nginx: NonNullable<Tools['nginx']>;
  dir: string;
  upstreamUrl: string;
  mmdbFile: string;
  blockedHosts: readonly string[];
  serverNames: readonly (readonly string[])[];
  bodyBytes: number;
  /** Header fields the 451 repeats (edge451's: blocked-answer.ts); nginx writes Content-Type itself. */
  blockedFields?: Record<string, string>;
  pinning: Pinning;
  timeoutMs: number;
}): Promise<BenchNginx> {
  const { dir, nginx } = options;
  const port = await freePort();
  const mapFile = join(dir, 'nginx-blocked.map');
  await writeFile(mapFile, nginxBlockedHostsMap(options.blockedHosts));
  const configFile = join(dir, 'nginx.conf');
  const config = renderNginxConfig({
    dir,
    port,
    originHostPort: new URL(options.upstreamUrl).host,
    mmdbFile: options.mmdbFile,
    geoip2Module: nginx.geoip2Module,
    blockedHostsMapFile: mapFile,
    blockedCountries,
    serverNames: options.serverNames,
    blockedBody: nginxSafeBody(options.bodyBytes),
    blockedFields: Object.entries(options.blockedFields ?? {}).filter(([name]) => name !== 'content-type'),
    workerProcesses: 1,
    runAsRoot: process.getuid?.() === 0,
  });
  await writeFile(configFile, config);
  const url = `http://127.0.0.1:${port}`;
  const { pinning } = options;
  const started = await startNginx(
    nginx.path,
    configFile,
    dir,
    url,
    pinning.serverCpus,
    pinning,
    options.timeoutMs,
  );
  return {
    candidate: {
      id: 'nginx',
      url,
      pid: started.launched.pid,
      blocks: true,
      cacheHeader: { name: 'cache-status', hitPattern: /^HIT$/ },
      launched: started.launched,
    },
    readyMs: started.readyMs,
    mapFile,
  };
}

/** An HTML body of `bytes` bytes that nginx's string syntax accepts as is (no quotes, `\` or `$`). */
function nginxSafeBody(bytes: number): string {
  const head = '<!doctype html><title>451 Unavailable For Legal Reasons</title><p>';
  return head + 'x'.repeat(Math.max(0, bytes - head.length));
}
