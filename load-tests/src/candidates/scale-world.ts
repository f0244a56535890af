import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from '../scenarios/bench-context.js';
import { blockedCountries } from '../scenarios/client-addresses.js';
import type { Launched } from '../system/launch.js';
import { sampleProcessTree } from '../system/process-tree.js';
import { mmdbFile, writeBenchEdgeConfig } from './bench-world.js';
import type { Candidate } from './candidate.js';
import { renderPolicy } from './edge-config.js';
import { startBenchNginx } from './start-bench-nginx.js';
import { startEdge } from './start-candidate.js';

/** The n-th site of the scale world; `*.site` is one of its hosts, so every blocked host routes. */
export const scaleSite = (n: number) => `site-${n}.scale.test`;
/** The n-th blocked host, spread over the sites. */
export const scaleBlockedHost = (n: number, sites: number) => `m${n}.${scaleSite(n % sites)}`;
/** Orders of the scale policy hold this many hosts each (1,000 orders for 1,000,000 hosts). */
export const scaleHostsPerOrder = 1000;

/** A candidate of the scale world, with what starting it cost. */
export type ScaleCandidate = { candidate: Candidate; readyMs: number; rssBytes: number; pssBytes: number };

function memoryOf(pid: number): { rssBytes: number; pssBytes: number } {
  const usage = sampleProcessTree(pid, { proportional: true });
  return { rssBytes: usage?.rssBytes ?? Number.NaN, pssBytes: usage?.pssBytes ?? Number.NaN };
}

/**
 * 10,000 sites and 1,000,000 blocked hosts (by default), generated into a temp folder, served by edge451
 * and, when installed, by nginx (10,000 server blocks, a 1,000,000-entry `map`). Started on first use and
 * shared by the scale and policy-change scenarios; `close` ends it.
 */
export type ScaleWorld = {
  dir: string;
  sites: number;
  hosts: number;
  edge: ScaleCandidate;
  /** edge451 `workers: auto` over the same files, started on demand (policy-change). */
  edgeAuto(): Promise<ScaleCandidate>;
  /** nginx over the same sites and hosts; `mapFile` is its blocked-hosts map (appended to on reload). */
  nginx?: ScaleCandidate & { mapFile: string };
  nginxProblem?: string;
  close(): Promise<void>;
};

const worlds = new WeakMap<BenchContext, Promise<ScaleWorld>>();

/** The scale world of this run, generated and started on the first call. */
export function scaleWorldOf(ctx: BenchContext): Promise<ScaleWorld> {
  let world = worlds.get(ctx);
  if (world === undefined) {
    world = startScaleWorld(ctx);
    worlds.set(ctx, world);
  }
  return world;
}

/** Closes the scale world if this run started one. */
export async function closeScaleWorld(ctx: BenchContext): Promise<void> {
  const world = worlds.get(ctx);
  worlds.delete(ctx);
  if (world !== undefined) await (await world.catch(() => undefined))?.close();
}

async function startScaleWorld(ctx: BenchContext): Promise<ScaleWorld> {
  const { world, options } = ctx;
  const { scaleSites: sites, scaleHosts: hosts } = options;
  const dir = await mkdtemp(join(tmpdir(), 'edge451-scale-'));
  const launched: Launched[] = [];
  const close = async () => {
    await Promise.all(launched.map((process) => process.stop()));
    if (!options.keepTemp) await rm(dir, { recursive: true, force: true });
  };
  try {
    const generated = performance.now();
    const blocked = Array.from({ length: hosts }, (_, n) => scaleBlockedHost(n, sites));
    const policyFile = join(dir, 'policy.json');
    await writeFile(
      policyFile,
      JSON.stringify(
        renderPolicy(blocked, { countries: blockedCountries, hostsPerOrder: scaleHostsPerOrder }),
      ),
    );
    const siteList = Array.from({ length: sites }, (_, n) => ({
      name: `site-${n}`,
      hosts: [scaleSite(n), `*.${scaleSite(n)}`],
    }));
    ctx.log(
      `  scale world: ${sites} sites, ${hosts} blocked hosts generated in ${Math.round(performance.now() - generated)} ms (${dir})`,
    );

    const startScaleEdge = async (
      id: 'edge-1' | 'edge-auto',
      workers: 1 | 'auto',
      cpus: string,
    ): Promise<ScaleCandidate> => {
      const { configFile, url, adminUrl } = await writeBenchEdgeConfig(
        dir,
        id,
        workers,
        world.upstream.url,
        policyFile,
        siteList,
      );
      const started = await startEdge(`scale ${id}`, configFile, adminUrl, cpus, world.pinning, {
        timeoutMs: 300_000,
      });
      launched.push(started.launched);
      const candidate: Candidate = {
        id,
        url,
        pid: started.launched.pid,
        blocks: true,
        cacheHeader: { name: 'cache-status', hitPattern: /edge451; hit/ },
        adminUrl,
        launched: started.launched,
      };
      return { candidate, readyMs: started.readyMs, ...memoryOf(started.launched.pid) };
    };

    const edge = await startScaleEdge('edge-1', 1, world.pinning.serverCpus);
    let auto: Promise<ScaleCandidate> | undefined;
    const result: ScaleWorld = {
      dir,
      sites,
      hosts,
      edge,
      edgeAuto: () => {
        auto ??= startScaleEdge('edge-auto', 'auto', world.pinning.allCpus);
        return auto;
      },
      close,
    };
    const nginx = world.tools.nginx;
    if (nginx !== undefined) {
      try {
        const started = await startBenchNginx({
          nginx,
          dir,
          upstreamUrl: world.upstream.url,
          mmdbFile,
          blockedHosts: blocked,
          serverNames: siteList.map((site) => site.hosts),
          bodyBytes: 1024,
          pinning: world.pinning,
          timeoutMs: 300_000,
        });
        launched.push(started.candidate.launched);
        result.nginx = { ...started, ...memoryOf(started.candidate.pid) };
      } catch (error) {
        result.nginxProblem = (error as Error).message.split('\n')[0] ?? 'failed';
      }
    }
    return result;
  } catch (error) {
    await close();
    throw error;
  }
}
