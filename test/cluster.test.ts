import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { clientIps, forwardedClientIp, motogpOrder } from './support/blocking-order.js';
import {
  answerThroughEdge,
  callAdmin,
  discoverWorkers,
  isRunning,
  sampleSum,
  sampleValue,
  sendOnNewConnection,
  stopUntilTestEnds,
  until,
  workerOf,
} from './support/cluster.js';
import { type RunningEdge, runCli, startEdge, tempDir, testConfig } from './support/edge.js';
import { send } from './support/http.js';
import { keepRequesting, servedAfter } from './support/in-force.js';
import { startOrigin, type TestOrigin } from './support/origin.js';

// `workers: N | auto` of the real binary: the primary owns the admin API and the policy, N workers serve
// traffic, each with its own policy replica and memory cache. Every request goes on a new connection, so
// node:cluster hands it to the next worker; a 451's JSON body names the request id, whose prefix names the
// process that answered, and the request log lines map it to a pid.

const blockedHost = 'motogpstream.me';
const allowedHost = 'news.example';
const formula1Order = {
  authority: 'Tribunal judiciaire de Paris',
  reference: 'RG 25/00042',
  url: 'https://www.courdecassation.fr/decision/test-fr-2025-formula1',
  countries: ['FR'],
  hosts: ['f1stream.tv'],
  from: '2025-03-28T00:00:00Z',
};
const notice = { notifiedBy: 'ARCOM', reference: 'ARCOM notification 2025-04-02 n°7' };
const siteHosts = [...motogpOrder.hosts, allowedHost, 'f1stream.tv', 'f1stream2.tv', '*.mirrors.test'];

type AuditEntry = { seq: number; at: string; action: string; inForceAt: string | null };
type ChangeAnswer = {
  version: number;
  versionBefore: number;
  inForceAt: string | null;
  audit: AuditEntry;
  pending?: string;
};

const auditEntries = async (edge: RunningEdge) =>
  (await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit')).json.entries;

async function startCluster(
  workers: number | 'auto',
  origin?: TestOrigin,
  overrides: Record<string, unknown> = {},
): Promise<{ edge: RunningEdge; origin: TestOrigin; config: Record<string, unknown> }> {
  const upstream = origin ?? (await startOrigin());
  const config = testConfig({
    workers,
    clientIp: forwardedClientIp,
    sites: [{ name: 'streams', hosts: siteHosts, origin: upstream.url }],
    policy: { files: ['policy.yaml'] },
    ...overrides,
  });
  const edge = await startEdge(config, { 'policy.yaml': { orders: [motogpOrder] } });
  return { edge, origin: upstream, config };
}

/** GETs `host` from `ip` on `count` new connections; the statuses and the workers that answered 451. */
async function answersFrom(edge: RunningEdge, host: string, ip: string, count: number) {
  const statuses: number[] = [];
  const workers = new Set<string>();
  for (let sent = 0; sent < count; sent += 1) {
    const answer = await answerThroughEdge(edge.url, host, ip);
    statuses.push(answer.status);
    if (answer.requestId !== undefined) workers.add(workerOf(answer.requestId));
  }
  return { statuses, workers };
}

/** A cacheable page per path, for the purge tests. */
function cacheableArticle(req: IncomingMessage, res: ServerResponse) {
  const body = `article ${req.url}\n`;
  res.writeHead(200, {
    'content-type': 'text/plain',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'public, max-age=600',
  });
  res.end(body);
}

/** GET `path` of the allowed site as a British client, on a new connection (so on the next worker). */
function articleForBritishClient(edge: RunningEdge, path: string) {
  return sendOnNewConnection(`${edge.url}${path}`, {
    headers: { host: allowedHost, 'x-forwarded-for': clientIps.GB },
  });
}

const hungWorkerKilled = 'worker did not confirm in time; killed as hung (SIGKILL)';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

describe('workers: 2', () => {
  it('two workers other than the primary serve the traffic port', async () => {
    const { edge } = await startCluster(2);
    const ready = await edge.waitForLog((line) => line.msg === 'edge451 ready');
    expect(ready.workers).toBe(2);

    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const pids = new Set(workers.values());
    expect(pids.size).toBe(2);
    expect(pids.has(edge.process.pid ?? -1)).toBe(false);
  });

  it('an order and a notification made through the admin API are in force on every worker from the next connection', async () => {
    const { edge } = await startCluster(2);
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const before = await answersFrom(edge, 'f1stream.tv', clientIps.FR, 4);
    expect(before.statuses).toEqual([200, 200, 200, 200]);

    const put = await callAdmin<ChangeAnswer>(edge, 'PUT', '/orders/fr-2025-formula1', formula1Order);
    expect(put.status).toBe(200);
    const notified = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-formula1/notifications', {
      ...notice,
      hosts: ['f1stream2.tv'],
    });
    expect(notified).toMatchObject({ status: 200, json: { version: put.json.version + 1 } });

    // No waiting: the primary sends the change to every worker before it answers, on the same channel
    // that later hands them the next connections.
    for (const host of ['f1stream.tv', 'f1stream2.tv']) {
      const after = await answersFrom(edge, host, clientIps.FR, 20);
      expect(after.statuses).toEqual(Array(20).fill(451));
      expect([...after.workers].sort()).toEqual([...workers.keys()].sort());
    }
    // The order is French: a British client still gets the site, from every worker.
    const british = await answersFrom(edge, 'f1stream2.tv', clientIps.GB, 4);
    expect(british.statuses).toEqual([200, 200, 200, 200]);
  });

  it('a policy change reaches every worker within a second of the admin answer', async () => {
    const { edge } = await startCluster(2);
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    // Baseline: one blocked request on a new connection, so the figures below read as "N requests' time".
    const roundTrips: number[] = [];
    for (let sent = 0; sent < 14; sent += 1) {
      const started = performance.now();
      await answerThroughEdge(edge.url, blockedHost, clientIps.FR);
      roundTrips.push(performance.now() - started);
    }
    const afterAnswer: number[] = [];
    const afterRequest: number[] = [];
    let servedBeforeChange = 0;
    for (let round = 1; round <= 7; round += 1) {
      const host = `mirror-${round}.mirrors.test`;
      const requested = performance.now();
      const change = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
        ...notice,
        hosts: [host],
      });
      const answered = performance.now();
      expect(change.status).toBe(200);
      const firstBlock = new Map<string, number>();
      while (firstBlock.size < workers.size && performance.now() - answered < 5_000) {
        const answer = await answerThroughEdge(edge.url, host, clientIps.FR);
        if (answer.requestId === undefined) servedBeforeChange += 1;
        else if (!firstBlock.has(workerOf(answer.requestId)))
          firstBlock.set(workerOf(answer.requestId), performance.now());
      }
      expect([...firstBlock.keys()].sort()).toEqual([...workers.keys()].sort());
      for (const at of firstBlock.values()) {
        afterAnswer.push(at - answered);
        afterRequest.push(at - requested);
      }
    }
    // Upper bounds: a worker had the change by the time it answered 451 on a new connection.
    console.log(
      `policy change → 451 on each of 2 workers, ${afterAnswer.length} samples: ` +
        `after the admin answer median ${median(afterAnswer).toFixed(1)} ms, max ${Math.max(...afterAnswer).toFixed(1)} ms; ` +
        `from the admin request median ${median(afterRequest).toFixed(1)} ms, max ${Math.max(...afterRequest).toFixed(1)} ms; ` +
        `${servedBeforeChange} request(s) after an answer still served; ` +
        `baseline request on a new connection median ${median(roundTrips).toFixed(1)} ms`,
    );
    expect(Math.max(...afterAnswer)).toBeLessThan(1_000);
  });

  it('no request decided after the in-force instant of a notification is served the newly blocked host, on either worker', async () => {
    const { edge } = await startCluster(2);
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    for (let trial = 0; trial < 3; trial += 1) {
      const host = `during${trial}.mirrors.test`;
      const traffic = keepRequesting(edge.url, host, clientIps.FR);
      await sleep(150);
      const change = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
        ...notice,
        hosts: [host],
      });
      expect(change.status).toBe(200);
      await sleep(150);
      await traffic.stop();
      await sleep(100);
      const { inForceAt, audit } = change.json;
      // Recorded before it was sent to the workers, in force once both confirmed it.
      expect(Date.parse(String(inForceAt))).toBeGreaterThanOrEqual(Date.parse(audit.at));
      expect({ trial, late: servedAfter(edge, host, String(inForceAt)) }).toEqual({ trial, late: [] });
      // Both workers served the host before the change and refused it after.
      const logged = edge.logs().filter((line) => line.host === host);
      const pids = (status: number) =>
        new Set(logged.filter((line) => line.status === status).map((line) => line.pid));
      expect({ served: pids(200), blocked: pids(451) }).toEqual({
        served: new Set(workers.values()),
        blocked: new Set(workers.values()),
      });
    }
    const audit = await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit');
    expect(audit.json.entries.map((entry) => entry.inForceAt)).toEqual(Array(3).fill(expect.any(String)));
  });

  it('a worker that does not confirm a change for longer than the admin wait but within workerConfirmMs holds the answer at most 10 s (202, no instant) and is not killed; the instant is recorded once it confirms', async () => {
    const { edge } = await startCluster(2, undefined, { workerConfirmMs: 30_000 });
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const [stopped] = [...workers.values()];
    if (stopped === undefined) throw new Error('expected two workers');
    process.kill(stopped, 'SIGSTOP');
    let resumedAt = Number.POSITIVE_INFINITY;
    try {
      const sent = Date.now();
      const change = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
        ...notice,
        hosts: ['late.mirrors.test'],
      });
      const waited = Date.now() - sent;
      expect(change.status).toBe(202);
      expect(change.json).toMatchObject({ inForceAt: null, audit: { inForceAt: null } });
      expect(change.json.pending).toEqual(expect.any(String));
      expect(waited).toBeGreaterThanOrEqual(9_900);
      expect(waited).toBeLessThan(12_000);
      const logged = await edge.waitForLog((line) =>
        String(line.msg).startsWith('policy change not confirmed'),
      );
      expect(logged).toMatchObject({ policy_version: change.json.version, worker_pids: [stopped] });
      expect((await auditEntries(edge))[0]?.inForceAt).toBeNull();
    } finally {
      resumedAt = Date.now();
      process.kill(stopped, 'SIGCONT');
    }
    await until(
      async () => (await auditEntries(edge))[0]?.inForceAt !== null,
      'the change is recorded in force',
    );
    const [entry] = await auditEntries(edge);
    expect(Date.parse(String(entry?.inForceAt))).toBeGreaterThanOrEqual(resumedAt);
    const after = await answersFrom(edge, 'late.mirrors.test', clientIps.FR, 10);
    expect(after.statuses).toEqual(Array(10).fill(451));
    expect(after.workers).toEqual(new Set(workers.keys()));
    expect(edge.logs().filter((line) => line.msg === hungWorkerKilled)).toEqual([]);
  });

  it('a worker that does not confirm a change within workerConfirmMs is killed and replaced: the answer is 200, in force from when it was gone', async () => {
    const { edge } = await startCluster(2, undefined, { workerConfirmMs: 1_000 });
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const [hung, healthy] = [...workers.values()];
    if (hung === undefined || healthy === undefined) throw new Error('expected two workers');
    // What a hung worker looks like from outside: alive, and answering nothing.
    stopUntilTestEnds(hung);
    const sent = Date.now();
    const change = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
      ...notice,
      hosts: ['hung.mirrors.test'],
    });
    const waited = Date.now() - sent;
    expect(change.status).toBe(200);
    expect(change.json.pending).toBeUndefined();
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(waited).toBeLessThan(5_000);

    const killed = await edge.waitForLog((line) => line.msg === hungWorkerKilled);
    expect(killed).toMatchObject({
      level: 50,
      worker_pid: hung,
      unconfirmed: 'policy',
      policy_version: change.json.version,
      confirmed_version: change.json.versionBefore,
    });
    expect(Number(killed.waited_ms)).toBeGreaterThanOrEqual(1_000);
    const died = await edge.waitForLog(
      (line) => line.msg === 'worker died; starting another' && line.worker_pid === hung,
    );
    expect(died).toMatchObject({ signal: 'SIGKILL' });
    // In force from the moment the killed worker was gone: after the kill, and stored before the answer.
    const inForceAt = Date.parse(String(change.json.inForceAt));
    expect(inForceAt).toBeGreaterThanOrEqual(Date.parse(String(killed.time)));
    expect(inForceAt).toBeGreaterThanOrEqual(sent + 1_000);
    expect((await auditEntries(edge))[0]).toMatchObject({
      seq: change.json.audit.seq,
      inForceAt: change.json.inForceAt,
    });
    expect(edge.logs().filter((line) => String(line.msg).startsWith('policy change not confirmed'))).toEqual(
      [],
    );

    await until(
      async () => (await send(`${edge.adminUrl}/readyz`)).status === 200,
      'the node is ready again',
    );
    const after = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    expect(new Set(after.values()).has(healthy)).toBe(true);
    expect(new Set(after.values()).has(hung)).toBe(false);
    expect(isRunning(hung)).toBe(false);
    const answers = await answersFrom(edge, 'hung.mirrors.test', clientIps.FR, 20);
    expect(answers.statuses).toEqual(Array(20).fill(451));
    expect(answers.workers).toEqual(new Set(after.keys()));

    // The replacement started with the version in force; the next change is confirmed by both, in time.
    const next = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
      ...notice,
      hosts: ['next.mirrors.test'],
    });
    expect(next.status).toBe(200);
    await sleep(1_500);
    expect(edge.logs().filter((line) => line.msg === hungWorkerKilled)).toHaveLength(1);
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(sampleValue(metrics.body, 'edge451_hung_workers_killed_total{unconfirmed="policy"}')).toBe(1);
    expect(sampleValue(metrics.body, 'edge451_hung_workers_killed_total{unconfirmed="config"}')).toBe(0);
    expect(sampleValue(metrics.body, 'edge451_requests_total{outcome="blocked"}')).toBeGreaterThan(0);
  });

  it('a worker that dies before confirming a change is not waited for: the answer comes with the instant it died', async () => {
    const { edge } = await startCluster(2);
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const [victim] = [...workers.values()];
    if (victim === undefined) throw new Error('expected two workers');
    process.kill(victim, 'SIGSTOP');
    const answer = callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
      ...notice,
      hosts: ['dying.mirrors.test'],
    });
    await sleep(500);
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    const change = await answer;
    expect(change.status).toBe(200);
    expect(Date.parse(String(change.json.inForceAt))).toBeGreaterThanOrEqual(killedAt);
    expect(Date.parse(String(change.json.inForceAt))).toBeLessThan(killedAt + 5_000);
    await until(
      async () => (await send(`${edge.adminUrl}/readyz`)).status === 200,
      'the node is ready again',
    );
    const after = await answersFrom(edge, 'dying.mirrors.test', clientIps.FR, 10);
    expect(after.statuses).toEqual(Array(10).fill(451));
  });

  it('/metrics on the admin port sums the workers and reports the primary policy version', async () => {
    const { edge } = await startCluster(2);
    const change = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
      ...notice,
      hosts: ['mirror-1.mirrors.test'],
    });
    expect(change.status).toBe(200);

    const blocked = await answersFrom(edge, blockedHost, clientIps.FR, 10);
    const allowed = await answersFrom(edge, allowedHost, clientIps.GB, 6);
    expect(blocked.statuses).toEqual(Array(10).fill(451));
    expect(allowed.statuses).toEqual(Array(6).fill(200));
    expect(blocked.workers.size).toBe(2);
    // A request is counted before its log line is written: wait for the 16 lines, then scrape.
    await until(
      () => edge.logs().filter((line) => line.msg === 'blocked' || line.msg === 'request').length === 16,
      'every request is logged',
    );

    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(sampleValue(metrics.body, 'edge451_requests_total{outcome="blocked"}')).toBe(10);
    expect(sampleSum(metrics.body, 'edge451_requests_total')).toBe(16);
    // Each worker's durations, summed by the primary like its counters.
    expect(sampleValue(metrics.body, 'edge451_request_duration_seconds_count{outcome="blocked"}')).toBe(10);
    expect(sampleValue(metrics.body, 'edge451_blocks_total{order_id="fr-2025-motogp",country="FR"}')).toBe(
      10,
    );
    const policy = await callAdmin<{ version: number }>(edge, 'GET', '/policy');
    expect(policy.json.version).toBe(change.json.version);
    expect(sampleValue(metrics.body, 'edge451_policy_version')).toBe(policy.json.version);
  });

  it('a purge reaches the cache of every worker and the purged counts are summed', async () => {
    const origin = await startOrigin(cacheableArticle);
    const { edge } = await startCluster(2, origin);
    const paths = ['/a', '/b', '/c'];
    const get = (path: string) => articleForBritishClient(edge, path);

    for (const path of paths)
      for (let sent = 0; sent < 4; sent += 1) expect((await get(path)).status).toBe(200);
    // Each worker fetched each path once into its own cache, then answered from it.
    expect(origin.requests.length).toBe(6);

    const purge = await callAdmin<{ purged: number }>(edge, 'POST', '/cache/purge', { all: true });
    expect(purge).toEqual({ status: 200, json: { purged: 6 } });

    for (const path of paths) {
      for (let sent = 0; sent < 2; sent += 1) {
        const response = await get(path);
        expect(response.status).toBe(200);
        expect(response.headers['cache-status']).not.toMatch(/; hit/);
      }
    }
    expect(origin.requests.length).toBe(12);
  });

  it('a purge is answered while a worker is hung: the worker is killed within workerConfirmMs, its cache goes with it, and the count is what the others removed', async () => {
    const origin = await startOrigin(cacheableArticle);
    const { edge } = await startCluster(2, origin, { workerConfirmMs: 1_000 });
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const [hung] = [...workers.values()];
    if (hung === undefined) throw new Error('expected two workers');
    const get = (path: string) => articleForBritishClient(edge, path);
    for (const path of ['/a', '/b', '/c'])
      for (let sent = 0; sent < 4; sent += 1) expect((await get(path)).status).toBe(200);
    expect(origin.requests.length).toBe(6);

    stopUntilTestEnds(hung);
    const sent = Date.now();
    const purge = await callAdmin<{ purged: number }>(edge, 'POST', '/cache/purge', { all: true });
    const waited = Date.now() - sent;

    // Only the live worker's three entries are counted: the hung worker's went with the process.
    expect(purge).toEqual({ status: 200, json: { purged: 3 } });
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(waited).toBeLessThan(8_000);
    const killed = await edge.waitForLog((line) => line.msg === hungWorkerKilled);
    expect(killed).toMatchObject({ level: 50, worker_pid: hung, unconfirmed: 'purge', waited_ms: 1_000 });
    await until(() => !isRunning(hung), `the hung worker ${hung} is gone`);
    await until(
      async () => (await send(`${edge.adminUrl}/readyz`)).status === 200,
      'the node is ready again',
    );
    // No worker answers from a cache that held the purged entries.
    for (const path of ['/a', '/b', '/c']) {
      for (let sent = 0; sent < 2; sent += 1) {
        const response = await get(path);
        expect(response.status).toBe(200);
        expect(response.headers['cache-status']).not.toMatch(/; hit/);
      }
    }
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(sampleValue(metrics.body, 'edge451_hung_workers_killed_total{unconfirmed="purge"}')).toBe(1);
  });

  it('a worker that dies is replaced and the replacement enforces every change, including one made while it started', async () => {
    const { edge } = await startCluster(2);
    const put = await callAdmin<ChangeAnswer>(edge, 'PUT', '/orders/fr-2025-formula1', formula1Order);
    expect(put.status).toBe(200);
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const [victim, survivor] = [...workers.values()];
    if (victim === undefined || survivor === undefined) throw new Error('expected two workers');

    process.kill(victim, 'SIGKILL');
    await edge.waitForLog(
      (line) => line.msg === 'worker died; starting another' && line.worker_pid === victim,
    );
    const notified = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-formula1/notifications', {
      ...notice,
      hosts: ['f1stream2.tv'],
    });
    expect(notified.status).toBe(200);
    // The survivor answers alone while the replacement starts.
    const meanwhile = await answersFrom(edge, 'f1stream2.tv', clientIps.FR, 6);
    expect(meanwhile.statuses).toEqual(Array(6).fill(451));
    expect(isRunning(victim)).toBe(false);

    await until(
      async () => (await send(`${edge.adminUrl}/readyz`)).status === 200,
      'the node is ready again',
    );
    const after = await discoverWorkers(edge, { host: 'f1stream.tv', ip: clientIps.FR }, 2);
    const replacement = [...after.values()].find((pid) => pid !== survivor);
    expect(replacement).toBeDefined();
    expect(replacement).not.toBe(victim);
    expect(new Set(after.values())).toEqual(new Set([survivor, replacement]));
    for (const host of ['f1stream.tv', 'f1stream2.tv', blockedHost]) {
      const answers = await answersFrom(edge, host, clientIps.FR, 10);
      expect(answers.statuses).toEqual(Array(10).fill(451));
      expect(answers.workers).toEqual(new Set(after.keys()));
    }
  });

  it('SIGHUP reloads the policy files on every worker', async () => {
    const { edge } = await startCluster(2);
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    expect((await answersFrom(edge, 'f1stream.tv', clientIps.FR, 2)).statuses).toEqual([200, 200]);

    await writeFile(
      join(edge.dir, 'policy.yaml'),
      stringify({ orders: [motogpOrder, { ...formula1Order, id: 'fr-2025-formula1' }] }),
    );
    edge.process.kill('SIGHUP');
    await edge.waitForLog((line) => line.msg === 'reloaded');
    // Logged once both workers confirmed the reloaded policy: the audit has its in-force instant.
    const [reloaded] = await auditEntries(edge);
    expect(reloaded).toMatchObject({ action: 'reload', inForceAt: expect.any(String) });

    const after = await answersFrom(edge, 'f1stream.tv', clientIps.FR, 10);
    expect(after.statuses).toEqual(Array(10).fill(451));
    expect(after.workers).toEqual(new Set(workers.keys()));
  });

  it('once SIGHUP is logged as reloaded, every worker routes a site host the new config adds', async () => {
    const { edge, origin, config } = await startCluster(2);
    const get = () =>
      sendOnNewConnection(`${edge.url}/`, {
        headers: { host: 'late.example', 'x-forwarded-for': clientIps.GB },
      });
    expect((await get()).status).toBe(421);

    const sites = [{ name: 'streams', hosts: [...siteHosts, 'late.example'], origin: origin.url }];
    await writeFile(edge.configFile, stringify({ ...config, sites }));
    edge.process.kill('SIGHUP');
    await edge.waitForLog((line) => line.msg === 'reloaded');

    const statuses: number[] = [];
    for (let sent = 0; sent < 10; sent += 1) statuses.push((await get()).status);
    expect(statuses).toEqual(Array(10).fill(200));
  });

  it('SIGHUP is logged as reloaded only once every worker has confirmed the new config, one held stopped too', async () => {
    // Held for longer than the admin wait, but within workerConfirmMs: waited for, not killed.
    const { edge, origin, config } = await startCluster(2, undefined, { workerConfirmMs: 30_000 });
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const [stopped] = [...workers.values()];
    if (stopped === undefined) throw new Error('expected two workers');
    stopUntilTestEnds(stopped);
    const sites = [{ name: 'streams', hosts: [...siteHosts, 'late.example'], origin: origin.url }];
    await writeFile(edge.configFile, stringify({ ...config, sites }));
    edge.process.kill('SIGHUP');
    // The reloaded policy is waited for first (at most 10 s), then the config.
    await edge.waitForLog((line) => String(line.msg).startsWith('policy change not confirmed'), 12_000);
    await sleep(1_000);
    expect(edge.logs().filter((line) => line.msg === 'reloaded')).toEqual([]);

    const resumedAt = Date.now();
    process.kill(stopped, 'SIGCONT');
    const reloaded = await edge.waitForLog((line) => line.msg === 'reloaded');
    expect(Date.parse(String(reloaded.time))).toBeGreaterThanOrEqual(resumedAt);
    expect(
      edge.logs().filter((line) => line.msg === 'config reload not confirmed by every worker in time'),
    ).toEqual([]);
    const statuses: number[] = [];
    for (let sent = 0; sent < 10; sent += 1) {
      const response = await sendOnNewConnection(`${edge.url}/`, {
        headers: { host: 'late.example', 'x-forwarded-for': clientIps.GB },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual(Array(10).fill(200));
    await until(
      () => edge.logs().filter((line) => line.host === 'late.example' && line.status === 200).length === 10,
      'every request is logged',
    );
    const servedBy = edge.logs().filter((line) => line.host === 'late.example' && line.status === 200);
    expect(new Set(servedBy.map((line) => line.pid))).toEqual(new Set(workers.values()));
  });

  it('SIGTERM drains in-flight requests on the workers, then the primary exits 0 and no worker is left', async () => {
    let originSaw: () => void = () => undefined;
    const requestArrived = new Promise<void>((resolve) => {
      originSaw = resolve;
    });
    const origin = await startOrigin((req, res) => {
      if (req.url !== '/slow') return void res.end('ok\n');
      originSaw();
      setTimeout(() => res.end('slow but complete\n'), 500);
    });
    const { edge } = await startCluster(2, origin);
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);

    const inFlight = sendOnNewConnection(`${edge.url}/slow`, {
      headers: { host: allowedHost, 'x-forwarded-for': clientIps.GB },
    });
    await requestArrived;
    const exitCode = await edge.stop('SIGTERM');

    expect(await inFlight).toMatchObject({ status: 200, body: 'slow but complete\n' });
    expect(exitCode).toBe(0);
    expect(edge.logs().some((line) => line.msg === 'stopped')).toBe(true);
    for (const pid of workers.values()) expect(isRunning(pid), `worker ${pid} is still running`).toBe(false);
  });

  it('SIGTERM with a hung worker: the worker is killed workerConfirmMs after the drain deadline and the primary exits 0', async () => {
    const { edge } = await startCluster(2, undefined, {
      workerConfirmMs: 1_000,
      shutdown: { drainMs: 500 },
    });
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const [hung, healthy] = [...workers.values()];
    if (hung === undefined || healthy === undefined) throw new Error('expected two workers');
    stopUntilTestEnds(hung);

    const sent = Date.now();
    const exitCode = await edge.stop('SIGTERM');
    const waited = Date.now() - sent;

    expect(exitCode).toBe(0);
    expect(waited).toBeGreaterThanOrEqual(1_500);
    expect(waited).toBeLessThan(10_000);
    const killed = edge
      .logs()
      .filter((line) => line.msg === 'worker did not exit after the drain; killed as hung (SIGKILL)');
    expect(killed).toEqual([expect.objectContaining({ level: 50, worker_pid: hung, waited_ms: 1_500 })]);
    expect(edge.logs().some((line) => line.msg === 'stopped')).toBe(true);
    for (const pid of [hung, healthy]) expect(isRunning(pid), `worker ${pid} is still running`).toBe(false);
  });

  it('workers exit when the primary is killed, so none keeps serving a policy nobody updates', async () => {
    const { edge } = await startCluster(2);
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);

    expect(await edge.stop('SIGKILL')).toBeNull();
    await until(
      () => [...workers.values()].every((pid) => !isRunning(pid)),
      `workers ${[...workers.values()].join(', ')} have exited`,
      5_000,
    );
    await expect(sendOnNewConnection(`${edge.url}/`, { headers: { host: blockedHost } })).rejects.toThrow();
  });
});

/**
 * A preload (`NODE_OPTIONS=--import=…`) that stops the cluster worker with id `workerId` before edge451's code
 * runs, as a hung worker looks from outside, after writing its pid to `hung.pid` beside itself.
 */
function preloadStoppingWorker(workerId: number): string {
  return [
    "import cluster from 'node:cluster';",
    "import { writeFileSync } from 'node:fs';",
    `if (cluster.worker?.id === ${workerId}) {`,
    "  writeFileSync(new URL('./hung.pid', import.meta.url), String(process.pid));",
    "  process.kill(process.pid, 'SIGSTOP');",
    '}',
  ].join('\n');
}

describe('a worker that hangs before it listens', () => {
  // The primary polled for every worker's `ready` without bound: one stuck before it listened (here,
  // stopped by a preload before edge451's code even runs, so it never says hello) made `start` wait
  // forever, serving nothing and telling nobody. `workerStartMs` bounds it.
  it('is killed after workerStartMs and the start fails: exit 2, naming the worker', async () => {
    const dir = await tempDir({
      'policy.yaml': { orders: [motogpOrder] },
      // Only the second worker (cluster ids count from 1): the primary and the first worker start as usual.
      'hang.mjs': preloadStoppingWorker(2),
      'edge451.yaml': testConfig({
        workers: 2,
        workerStartMs: 3_000,
        clientIp: forwardedClientIp,
        sites: [{ name: 'streams', hosts: siteHosts, origin: 'http://127.0.0.1:9' }],
        policy: { files: ['policy.yaml'] },
      }),
    });
    let hungPid: number | undefined;
    onTestFinished(() => {
      if (hungPid !== undefined && isRunning(hungPid)) process.kill(hungPid, 'SIGKILL');
    });
    const startedAt = Date.now();
    const result = await runCli(
      ['start', '--config', join(dir, 'edge451.yaml')],
      { NODE_OPTIONS: `--import=${join(dir, 'hang.mjs')}` },
      20_000,
    );
    hungPid = Number(await readFile(join(dir, 'hung.pid'), 'utf8'));

    expect(result.signal).toBeNull();
    expect(result.code).toBe(2);
    // Worker 1 is named too if the busy machine kept it from listening in time: the start fails either way.
    expect(result.stderr).toMatch(
      new RegExp(
        `worker 2 \\(pid ${hungPid}\\)(, [^\\n]*)? did not report ready within workerStartMs \\(3000 ms\\)`,
      ),
    );
    expect(result.stdout).toContain(
      '"msg":"worker did not report ready within workerStartMs; killed (SIGKILL)"',
    );
    expect(result.stdout).not.toContain('edge451 ready');
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    await until(() => !isRunning(hungPid ?? 0), `the hung worker ${hungPid} is gone`, 2_000);
  });
});

describe('a replacement worker that hangs before it listens', () => {
  // Once serving, the primary replaces a worker that dies; a replacement stuck before it listened held its
  // share of the node's capacity for good, telling nobody, until a change happened to time it out.
  it('is killed after workerStartMs and replaced in turn: the node serves with all its workers again', async () => {
    const dir = await tempDir({
      // Cluster ids count from 1: workers 1 and 2 start the node, 3 replaces the one killed below.
      'hang.mjs': preloadStoppingWorker(3),
    });
    const origin = await startOrigin();
    const edge = await startEdge(
      testConfig({
        workers: 2,
        // Long enough for a cold start on a busy machine: the first two workers must make it.
        workerStartMs: 6_000,
        clientIp: forwardedClientIp,
        sites: [{ name: 'streams', hosts: siteHosts, origin: origin.url }],
        policy: { files: ['policy.yaml'] },
      }),
      { 'policy.yaml': { orders: [motogpOrder] } },
      { dir, env: { NODE_OPTIONS: `--import=${join(dir, 'hang.mjs')}` } },
    );
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    const [victim] = [...workers.values()];
    if (victim === undefined) throw new Error('expected two workers');

    process.kill(victim, 'SIGKILL');
    await until(() => readFile(join(dir, 'hung.pid'), 'utf8').then(Boolean, () => false), 'worker 3 hangs');
    const hung = Number(await readFile(join(dir, 'hung.pid'), 'utf8'));
    onTestFinished(() => {
      if (isRunning(hung)) process.kill(hung, 'SIGKILL');
    });

    const killed = await edge.waitForLog((line) => line.msg === hungWorkerKilled && line.worker_pid === hung);
    expect(killed).toMatchObject({ level: 50, unconfirmed: 'start', waited_ms: 6_000 });
    await until(() => !isRunning(hung), `the hung worker ${hung} is gone`);
    await edge.waitForLog((line) => line.msg === 'worker died; starting another' && line.worker_pid === hung);
    await until(
      async () => (await send(`${edge.adminUrl}/readyz`)).status === 200,
      'the node is ready again',
    );
    const after = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, 2);
    expect(after.size).toBe(2);
    for (const pid of after.values()) expect([victim, hung]).not.toContain(pid);
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(sampleValue(metrics.body, 'edge451_hung_workers_killed_total{unconfirmed="start"}')).toBe(1);
  });
});

describe('workers: auto', () => {
  it('starts one worker per core', async () => {
    const cores = availableParallelism();
    const { edge } = await startCluster('auto');
    const workers = await discoverWorkers(edge, { host: blockedHost, ip: clientIps.FR }, cores);
    expect(new Set(workers.values()).size).toBe(cores);
    // More connections find no further process.
    const more = await answersFrom(edge, blockedHost, clientIps.FR, 4 * cores);
    expect(more.workers).toEqual(new Set(workers.keys()));
    if (cores > 1) {
      expect((await edge.waitForLog((line) => line.msg === 'edge451 ready')).workers).toBe(cores);
      expect(new Set(workers.values()).has(edge.process.pid ?? -1)).toBe(false);
    }
  });
});
