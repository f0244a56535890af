import cluster, { type Worker } from 'node:cluster';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterPurges } from './cluster-purges.js';

// Real forked workers (node:cluster), each running a few lines of script: one answers purges as a traffic
// worker does, the other closes its IPC channel and lingers, as a worker that is exiting does.
const answering = `process.on('message', (m) => { if (m.type === 'purge') process.send({ type: 'purged', id: m.id, count: 3 }); });`;
const leaving = 'process.disconnect(); setTimeout(() => {}, 5000);';
// A hung worker: alive, connected, and never answering.
const silent = `process.on('message', () => {});`;

const noOverdue = () => {
  throw new Error('no worker should be overdue');
};

const workers: Worker[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const worker of workers.splice(0)) worker.process.kill();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function forkRunning(script: string): Promise<Worker> {
  const dir = await mkdtemp(join(tmpdir(), 'edge451-purges-'));
  dirs.push(dir);
  const file = join(dir, 'worker.cjs');
  await writeFile(file, script);
  cluster.setupPrimary({ exec: file, silent: true });
  const worker = cluster.fork();
  workers.push(worker);
  await new Promise((resolve) => worker.once('online', resolve));
  return worker;
}

describe('ClusterPurges', () => {
  it('sums what every worker removed', async () => {
    const first = await forkRunning(answering);
    const second = await forkRunning(answering);
    const purges = new ClusterPurges(
      () => [first, second],
      () => 5_000,
      noOverdue,
    );
    for (const worker of [first, second]) worker.on('message', (reply) => purges.settle(worker, reply));
    await expect(purges.run({ all: true })).resolves.toBe(6);
  });

  it('skips a worker whose channel has closed instead of crashing the primary on the send', async () => {
    const live = await forkRunning(answering);
    const exiting = await forkRunning(leaving);
    if (exiting.isConnected()) await new Promise((resolve) => exiting.once('disconnect', resolve));
    expect(exiting.isDead()).toBe(false);
    const purges = new ClusterPurges(
      () => [live, exiting],
      () => 5_000,
      noOverdue,
    );
    live.on('message', (reply) => purges.settle(live, reply));
    await expect(purges.run({ all: true })).resolves.toBe(3);
    // An 'error' from a send on the closed channel would surface here, unhandled, and fail the run.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  it('hands a worker that has not answered within the confirm time to onOverdue, and answers once it is gone', async () => {
    const live = await forkRunning(answering);
    const hung = await forkRunning(silent);
    const overdue: { pid: number | undefined; waitedMs: number }[] = [];
    const purges = new ClusterPurges(
      () => [live, hung],
      () => 300,
      (worker, waitedMs) => {
        overdue.push({ pid: worker.process.pid, waitedMs });
        worker.process.kill('SIGKILL');
      },
    );
    live.on('message', (reply) => purges.settle(live, reply));
    hung.on('exit', () => purges.forget(hung));
    await expect(purges.run({ all: true })).resolves.toBe(3);
    expect(overdue).toEqual([{ pid: hung.process.pid, waitedMs: 300 }]);
  });
});
