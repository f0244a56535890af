import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findCommand } from './pinning.js';

/** Optional tools: each is used when present and reported as skipped (with the reason) when not. */
export type Tools = {
  wrk?: { path: string; version: string };
  nginx?: { path: string; version: string; geoip2Module: string };
  /** Why a tool is not used, for the console and the report. */
  skipped: string[];
};

const geoip2ModulePaths = [
  '/usr/lib/nginx/modules/ngx_http_geoip2_module.so',
  '/usr/share/nginx/modules/ngx_http_geoip2_module.so',
  '/usr/lib64/nginx/modules/ngx_http_geoip2_module.so',
];

/** Finds wrk and nginx with its geoip2 module; never throws. */
export function detectTools(): Tools {
  const skipped: string[] = [];
  const tools: Tools = { skipped };
  const wrk = findCommand('wrk');
  if (wrk === undefined)
    skipped.push('wrk not installed (apt-get install wrk): fast paths measured with autocannon only');
  else tools.wrk = { path: wrk, version: firstLine(wrk, ['--version']).replace(/ Copyright.*$/, '') };
  const nginx = findCommand('nginx');
  const geoip2Module = geoip2ModulePaths.find((path) => existsSync(path));
  if (nginx === undefined)
    skipped.push('nginx not installed (apt-get install nginx libnginx-mod-http-geoip2): no nginx candidate');
  else if (geoip2Module === undefined)
    skipped.push(
      'nginx geoip2 module missing (apt-get install libnginx-mod-http-geoip2): no nginx candidate',
    );
  else
    tools.nginx = {
      path: nginx,
      version: firstLine(nginx, ['-v']).replace(/^nginx version: /, ''),
      geoip2Module,
    };
  return tools;
}

function firstLine(command: string, args: string[]): string {
  // nginx -v prints on stderr, wrk --version exits 1: read both streams whatever the exit code.
  const { stdout = '', stderr = '' } = spawnSync(command, args, { encoding: 'utf8', timeout: 5000 });
  return `${stdout}${stderr}`.split('\n')[0]?.trim() || 'unknown version';
}
