import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchPaths } from '../origin/canned-responses.js';
import { blockedCountries, clientAddress } from '../scenarios/client-addresses.js';
import { freePort, probe, type RequestShape } from '../system/http-probe.js';
import type { Launched } from '../system/launch.js';
import type { Pinning } from '../system/pinning.js';
import type { Tools } from '../system/tools.js';
import { repeatedFields } from './blocked-answer.js';
import { type Candidate, type CandidateId, scriptCandidate } from './candidate.js';
import { type BenchSite, renderEdgeConfig, renderPolicy } from './edge-config.js';
import { startBenchNginx } from './start-bench-nginx.js';
import { type StartOptions, startEdge, startScript } from './start-candidate.js';

/** The MaxMind test database every geo-aware candidate reads. */
export const mmdbFile = fileURLToPath(
  new URL('../../../fixtures/geoip/GeoIP2-Country-Test.mmdb', import.meta.url),
);
/** The admin token of every benchmark edge (loopback only). */
export const adminToken = 'bench-admin-token-not-a-secret';
/** The site every throughput scenario requests. */
export const benchHost = 'bench.test';
/** The n-th of the 1,000 hosts the benchmark order blocks from FR and GB. */
export const blockedHost = (n: number) => `mirror-${n}.blocked.bench.test`;
const blockedHostCount = 1000;

/** The request of the blocked scenario: a GB client asks for a blocked host. */
export const blockedShape: RequestShape = {
  path: benchPaths.blocked,
  host: blockedHost(7),
  headers: { 'X-Forwarded-For': clientAddress('GB', 0) },
};

/** All candidates, running side by side (idle ones cost nothing), plus what they share. */
export type BenchWorld = {
  dir: string;
  pinning: Pinning;
  tools: Tools;
  /** The origin every proxy candidate fronts, on the generator's CPU; not in `candidates`. */
  upstream: Candidate;
  /** A bare TCP relay in front of `upstream` on the server's CPU (tcp-relay.ts); not in `candidates`. */
  relay?: Candidate;
  candidates: Map<CandidateId, Candidate>;
  /** Candidates that could not start, with the reason. */
  skipped: string[];
  /**
   * Starts one more edge451 with one worker and the same config (own ports and state), e.g. under
   * `--cpu-prof`; it is not a candidate of the tables. Stop it yourself; `close` stops it too.
   */
  startExtraEdge(name: string, extraNodeArgs: readonly string[]): Promise<Candidate>;
  close(): Promise<void>;
};

/**
 * Starts the upstream origin (generator's CPU) and every candidate (server's CPU; edge451 `workers: auto`
 * on all CPUs). edge451 with one worker starts first so that its 451 body can be handed to the bare server
 * and the naive proxy: the baselines answer the same bytes. A candidate other than edge451 that fails to
 * start is skipped with its reason; the run goes on.
 */
export async function startBenchWorld(pinning: Pinning, tools: Tools, keepDir: boolean): Promise<BenchWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'edge451-bench-'));
  const launchedAll: Launched[] = [];
  const candidates = new Map<CandidateId, Candidate>();
  const skipped: string[] = [];
  const close = async () => {
    await Promise.all(launchedAll.map((launched) => launched.stop()));
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    const started = await startScript('origin', 'origin/origin-main.ts', [], pinning.generatorCpus, pinning);
    launchedAll.push(started.launched);
    const upstream = scriptCandidate('upstream', started, false);
    let relay: Candidate | undefined;
    await optional('relay', async () => {
      const hop = await startTcpRelay(upstream.url, pinning.serverCpus, pinning);
      launchedAll.push(hop.launched);
      relay = scriptCandidate('relay', hop, false);
    });
    const { blockedHosts, policyFile, blockedHostsFile } = await writeBenchPolicy(dir);
    const edgeOne = await startBenchEdge('edge-1', 1, pinning.serverCpus);
    add(edgeOne);
    const blocked = await writeBlockedAnswer(dir, edgeOne.url);
    const bare = await startBareServer(blocked.files, pinning.serverCpus, pinning);
    add(scriptCandidate('bare', bare, true));
    const direct = await startScript(
      'origin-direct',
      'origin/origin-main.ts',
      [],
      pinning.serverCpus,
      pinning,
    );
    add(scriptCandidate('origin', direct, false));
    await optional('edge-auto', async () => add(await startBenchEdge('edge-auto', 'auto', pinning.allCpus)));
    await optional('naive', async () => {
      const naiveFiles = { originUrl: upstream.url, blockedHostsFile, blocked: blocked.files };
      const naive = await startNaiveProxy(naiveFiles, pinning.serverCpus, pinning);
      add(scriptCandidate('naive', naive, true));
    });
    await optional('floor', async () => {
      add(scriptCandidate('floor', await startUndiciFloor(upstream.url, pinning.serverCpus, pinning), false));
    });
    const nginx = tools.nginx;
    if (nginx !== undefined) {
      await optional('nginx', async () => {
        const started = await startBenchNginx({
          nginx,
          dir,
          upstreamUrl: upstream.url,
          mmdbFile,
          blockedHosts,
          serverNames: [[benchHost, `*.${benchHost}`]],
          bodyBytes: blocked.answer.body.length,
          blockedFields: blocked.answer.headers,
          pinning,
          timeoutMs: 60_000,
        });
        add(started.candidate);
      });
    }
    const startExtraEdge = async (name: string, extraNodeArgs: readonly string[]) => {
      const candidate = await startBenchEdge('edge-1', 1, pinning.serverCpus, name, extraNodeArgs);
      launchedAll.push(candidate.launched);
      return candidate;
    };
    return { dir, pinning, tools, upstream, relay, candidates, skipped, startExtraEdge, close };

    async function startBenchEdge(
      id: 'edge-1' | 'edge-auto',
      workers: 1 | 'auto',
      cpus: string,
      name: string = id,
      extraNodeArgs: readonly string[] = [],
    ): Promise<Candidate> {
      const { configFile, url, adminUrl } = await writeBenchEdgeConfig(
        dir,
        name,
        workers,
        upstream.url,
        policyFile,
      );
      const { launched } = await startEdge(name, configFile, adminUrl, cpus, pinning, { extraNodeArgs });
      return {
        id,
        url,
        pid: launched.pid,
        blocks: true,
        cacheHeader: { name: 'cache-status', hitPattern: /edge451; hit/ },
        adminUrl,
        launched,
      };
    }
  } catch (error) {
    await close();
    throw error;
  }

  function add(candidate: Candidate) {
    launchedAll.push(candidate.launched);
    candidates.set(candidate.id, candidate);
  }

  async function optional(id: CandidateId, start: () => Promise<unknown>) {
    try {
      await start();
    } catch (error) {
      skipped.push(`${id}: could not start (${(error as Error).message.split('\n')[0]})`);
    }
  }
}

/** Writes the benchmark's policy (1,000 hosts blocked from FR and GB) and the host list the naive proxy reads. */
export async function writeBenchPolicy(
  dir: string,
): Promise<{ blockedHosts: string[]; policyFile: string; blockedHostsFile: string }> {
  const blockedHosts = Array.from({ length: blockedHostCount }, (_, n) => blockedHost(n));
  const policyFile = join(dir, 'policy.json');
  await writeFile(
    policyFile,
    JSON.stringify(renderPolicy(blockedHosts, { countries: blockedCountries, hostsPerOrder: 100 })),
  );
  const blockedHostsFile = join(dir, 'blocked-hosts.txt');
  await writeFile(blockedHostsFile, `${blockedHosts.join('\n')}\n`);
  return { blockedHosts, policyFile, blockedHostsFile };
}

/**
 * Writes `dir/NAME.json`, an edge451 config on free ports with its own state folder, for `sites` (default:
 * the bench site) in front of `originUrl`.
 */
export async function writeBenchEdgeConfig(
  dir: string,
  name: string,
  workers: 1 | 'auto',
  originUrl: string,
  policyFile: string,
  sites: readonly BenchSite[] = [{ name: 'bench', hosts: [benchHost, `*.${benchHost}`] }],
): Promise<{ configFile: string; url: string; adminUrl: string }> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const configFile = join(dir, `${name}.json`);
  const config = renderEdgeConfig({
    port,
    adminPort,
    adminToken,
    workers,
    originUrl,
    mmdbFile,
    policyFile,
    stateDir: join(dir, `${name}-state`),
    sites,
  });
  await writeFile(configFile, JSON.stringify(config, null, 2));
  return { configFile, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}` };
}

/** Where `writeBlockedAnswer` put edge451's 451: its body, and its header fields as JSON. */
export type BlockedAnswerFiles = { body: string; headers: string };

/**
 * Writes edge451's 451, as `edgeUrl` answers the benchmark's blocked request, to `dir`: the page, and the
 * header fields a baseline repeats (blocked-answer.ts). The bare server, the naive proxy and nginx answer
 * 451s with these same bytes.
 */
export async function writeBlockedAnswer(
  dir: string,
  edgeUrl: string,
  timeoutMs?: number,
): Promise<{ answer: { headers: Record<string, string>; body: Buffer }; files: BlockedAnswerFiles }> {
  const response = await probe(edgeUrl, blockedShape, { timeoutMs });
  if (response.status !== 451)
    throw new Error(`edge451 answered the blocked request with ${response.status}`);
  const answer = { headers: repeatedFields(response.headers), body: response.body };
  const files = { body: join(dir, 'blocked-body.html'), headers: join(dir, 'blocked-headers.json') };
  await writeFile(files.body, answer.body);
  await writeFile(files.headers, JSON.stringify(answer.headers));
  return { answer, files };
}

/** `--blocked-body` and `--blocked-headers` of a baseline script. */
function blockedAnswerArgs(files: BlockedAnswerFiles): string[] {
  return ['--blocked-body', files.body, '--blocked-headers', files.headers];
}

/** The bare node:http server, answering 451s with edge451's bytes. */
export function startBareServer(
  blocked: BlockedAnswerFiles,
  cpus: string,
  pinning: Pinning,
  options?: StartOptions,
) {
  const args = blockedAnswerArgs(blocked);
  return startScript('bare', 'candidates/bare-server.ts', args, cpus, pinning, options);
}

/** The naive http-proxy in front of `originUrl`, blocking the benchmark's hosts from its blocked countries. */
export function startNaiveProxy(
  files: { originUrl: string; blockedHostsFile: string; blocked: BlockedAnswerFiles },
  cpus: string,
  pinning: Pinning,
  options?: StartOptions,
) {
  const args = ['--origin', files.originUrl, '--mmdb', mmdbFile, '--blocked-hosts', files.blockedHostsFile];
  args.push('--countries', blockedCountries.join(','), ...blockedAnswerArgs(files.blocked));
  return startScript('naive', 'candidates/naive-proxy.ts', args, cpus, pinning, options);
}

/** The bare TCP relay in front of `upstreamUrl`: the proxy's hop with no proxy in it. */
export function startTcpRelay(upstreamUrl: string, cpus: string, pinning: Pinning, options?: StartOptions) {
  return startScript('relay', 'candidates/tcp-relay.ts', ['--upstream', upstreamUrl], cpus, pinning, options);
}

/** The least proxy on edge451's stack (node:http + undici) in front of `upstreamUrl`: the pass-through's floor. */
export function startUndiciFloor(
  upstreamUrl: string,
  cpus: string,
  pinning: Pinning,
  options?: StartOptions,
) {
  const args = ['--upstream', upstreamUrl];
  return startScript('floor', 'candidates/undici-floor.ts', args, cpus, pinning, options);
}
