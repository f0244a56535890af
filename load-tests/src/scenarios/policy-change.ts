import { appendFile } from 'node:fs/promises';
import { adminToken } from '../candidates/bench-world.js';
import type { Candidate } from '../candidates/candidate.js';
import { scaleSite, scaleWorldOf } from '../candidates/scale-world.js';
import { benchPaths } from '../origin/canned-responses.js';
import { probe, type RequestShape } from '../system/http-probe.js';
import type { BenchContext } from './bench-context.js';
import { clientAddress } from './client-addresses.js';
import { median } from './stats.js';

/** Time from a policy change to its enforcement, for one candidate loaded with the scale world. */
export type PolicyChangeRow = {
  name: string;
  /** How the change was made: the admin API, or editing nginx's map and `nginx -s reload`. */
  how: string;
  /** Blocked hosts loaded when the change was made. */
  hosts: number;
  samples: number;
  /** Median ms from sending the change to the first 451 on the new host. */
  firstBlockMs: number;
  maxFirstBlockMs: number;
  /** Median ms until 10 consecutive fresh connections got 451 (every worker of a cluster enforces it). */
  allWorkersMs: number;
  /** Median ms the admin API took to answer (the change is fsynced to the audit log first). */
  answerMs: number;
  problems: string[];
};

const consecutiveBlocks = 10;
const sampleTimeoutMs = 60_000;

/**
 * DECISIONS #14: with 1,000,000 blocked hosts loaded, a notification adding a host must block it within
 * 50 ms. Each sample notifies a host never seen before (routed by its site's wildcard), checks that it
 * answered 200 just before, then polls it on fresh connections from a GB client until 451. nginx does the
 * same job by appending to its map and reloading (nginx 1.22 took 5.6 s on this kind of machine).
 */
export async function runPolicyChange(ctx: BenchContext): Promise<PolicyChangeRow[]> {
  const scale = await scaleWorldOf(ctx);
  const samples = ctx.options.policyChanges;
  const rows: PolicyChangeRow[] = [];
  rows.push(
    await measureChanges(ctx, 'edge451 workers: 1', scale.edge.candidate, samples, scale, notifyEdge),
  );
  try {
    const auto = await scale.edgeAuto();
    rows.push(await measureChanges(ctx, 'edge451 workers: auto', auto.candidate, samples, scale, notifyEdge));
  } catch (error) {
    rows.push(failedRow('edge451 workers: auto', scale.hosts, (error as Error).message));
  }
  const nginx = scale.nginx;
  if (nginx !== undefined) {
    const reload = async (host: string) => {
      await appendFile(nginx.mapFile, `${host} 1;\n`);
      process.kill(nginx.candidate.pid, 'SIGHUP');
      return Number.NaN;
    };
    rows.push(await measureChanges(ctx, 'nginx', nginx.candidate, ctx.options.quick ? 1 : 3, scale, reload));
  }
  return rows;
}

type ApplyChange = (host: string, candidate: Candidate, sample: number) => Promise<number>;

async function notifyEdge(host: string, candidate: Candidate, sample: number): Promise<number> {
  if (candidate.adminUrl === undefined) throw new Error('no admin API');
  const started = performance.now();
  const body = JSON.stringify({
    hosts: [host],
    notifiedBy: 'ARCOM',
    reference: `bench notification ${sample}`,
  });
  const response = await probe(candidate.adminUrl, {
    method: 'POST',
    path: '/orders/bench-0/notifications',
    host: 'localhost',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body,
  });
  if (response.status >= 300)
    throw new Error(`admin answered ${response.status}: ${response.body.toString('utf8').slice(0, 200)}`);
  return performance.now() - started;
}

async function measureChanges(
  ctx: BenchContext,
  name: string,
  candidate: Candidate,
  samples: number,
  { sites, hosts }: { sites: number; hosts: number },
  apply: ApplyChange,
): Promise<PolicyChangeRow> {
  const first: number[] = [];
  const all: number[] = [];
  const answers: number[] = [];
  const problems: string[] = [];
  for (let sample = 0; sample < samples; sample++) {
    const host = `notified-${Date.now()}-${sample}.${scaleSite((sample * 101) % sites)}`;
    const shape: RequestShape = {
      path: benchPaths.blocked,
      host,
      headers: { 'X-Forwarded-For': clientAddress('GB', sample) },
    };
    try {
      const before = await probe(candidate.url, shape);
      if (before.status !== 200)
        throw new Error(`${host} answered ${before.status} before the change, expected 200`);
      const started = performance.now();
      const applying = apply(host, candidate, sample);
      const firstMs = await pollUntilBlocked(candidate, shape, 1, started);
      answers.push(await applying);
      all.push(await pollUntilBlocked(candidate, shape, consecutiveBlocks, started));
      first.push(firstMs);
      ctx.log(`  policy change ${name} #${sample + 1}: first 451 after ${firstMs.toFixed(1)} ms`);
    } catch (error) {
      problems.push((error as Error).message);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    name,
    how: name === 'nginx' ? 'map file + reload (SIGHUP)' : 'POST /orders/{id}/notifications',
    hosts,
    samples: first.length,
    firstBlockMs: median(first),
    maxFirstBlockMs: first.length > 0 ? Math.max(...first) : Number.NaN,
    allWorkersMs: median(all),
    answerMs: median(answers),
    problems,
  };
}

/** Polls on fresh connections until `needed` 451s in a row; ms since `started`. Bounded by the timeout. */
async function pollUntilBlocked(
  candidate: Candidate,
  shape: RequestShape,
  needed: number,
  started: number,
): Promise<number> {
  let streak = 0;
  while (performance.now() - started < sampleTimeoutMs) {
    const response = await probe(candidate.url, shape).catch(() => undefined);
    streak = response?.status === 451 ? streak + 1 : 0;
    if (streak >= needed) return performance.now() - started;
  }
  throw new Error(`${shape.host} still not blocked after ${sampleTimeoutMs} ms`);
}

function failedRow(name: string, hosts: number, problem: string): PolicyChangeRow {
  const nan = Number.NaN;
  const how = 'POST /orders/{id}/notifications';
  return {
    name,
    how,
    hosts,
    samples: 0,
    firstBlockMs: nan,
    maxFirstBlockMs: nan,
    allWorkersMs: nan,
    answerMs: nan,
    problems: [problem],
  };
}
