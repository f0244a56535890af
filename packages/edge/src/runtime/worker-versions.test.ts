import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { within } from './in-force.js';
import { type Overdue, WorkerVersions } from './worker-versions.js';

// Workers are named by pid here; the primary uses its cluster Worker objects.
const versionsByPid = () => new WorkerVersions<number>((pid) => pid);
const pending = Symbol('pending');
const settled = <T>(promise: Promise<T>) => within(promise, 20).then((value) => value ?? pending);

describe('WorkerVersions', () => {
  it('a version is in force once every started worker has confirmed it, not before', async () => {
    const versions = versionsByPid();
    versions.started(101, 4);
    versions.started(102, 4);
    const inForce = versions.inForce(5);
    versions.applied(101, 5);
    expect(await settled(inForce)).toBe(pending);
    expect(versions.lagging(5)).toEqual([102]);
    const confirmedAt = Date.now();
    versions.applied(102, 5);
    expect(await inForce).toBeGreaterThanOrEqual(confirmedAt);
    expect(versions.lagging(5)).toEqual([]);
  });

  it('a later version confirmed covers the earlier ones', async () => {
    const versions = versionsByPid();
    versions.started(101, 1);
    const second = versions.inForce(2);
    const third = versions.inForce(3);
    versions.applied(101, 3);
    expect([typeof (await second), typeof (await third)]).toEqual(['number', 'number']);
  });

  it('a worker that exits before confirming is no longer waited for', async () => {
    const versions = versionsByPid();
    versions.started(101, 1);
    versions.started(102, 1);
    versions.applied(101, 2);
    const inForce = versions.inForce(2);
    expect(await settled(inForce)).toBe(pending);
    versions.gone(102);
    expect(typeof (await inForce)).toBe('number');
    // A confirmation from a worker already gone changes nothing.
    versions.applied(102, 9);
    expect(versions.lagging(3)).toEqual([101]);
  });

  it('a worker started with a snapshot at or after the version counts as having it', async () => {
    const versions = versionsByPid();
    versions.started(101, 1);
    const inForce = versions.inForce(2);
    versions.gone(101);
    versions.started(103, 2);
    expect(typeof (await inForce)).toBe('number');
    // No worker at all: nothing decides with an older version.
    versions.gone(103);
    expect(typeof (await versions.inForce(7))).toBe('number');
  });

  it('a confirmation of an earlier version, arriving late, does not take a worker back', async () => {
    const versions = versionsByPid();
    versions.started(101, 3);
    versions.applied(101, 2);
    expect(versions.lagging(3)).toEqual([]);
    expect(typeof (await versions.inForce(3))).toBe('number');
  });

  it('a confirmation from a worker never started is ignored', () => {
    const versions = versionsByPid();
    versions.applied(101, 5);
    expect(versions.lagging(1)).toEqual([]);
  });

  it('a worker that never confirms keeps the version pending', async () => {
    const versions = versionsByPid();
    versions.started(101, 1);
    expect(await settled(versions.inForce(2))).toBe(pending);
    expect(versions.lagging(2)).toEqual([101]);
  });
});

describe('WorkerVersions deadlines', () => {
  const watched = <W>(pidOf: (worker: W) => number | undefined) => {
    const overdue: Array<[W, Overdue]> = [];
    const versions = new WorkerVersions<W>(pidOf, (worker, late) => overdue.push([worker, late]));
    return { versions, overdue };
  };

  it('reports each live worker still below a version when its deadline passes, with what it holds', async () => {
    const { versions, overdue } = watched<number>((pid) => pid);
    for (const pid of [101, 102, 103]) versions.started(pid, 4);
    versions.sent(5, 60);
    versions.applied(101, 5);
    versions.gone(103);
    await sleep(20);
    expect(overdue).toEqual([]);
    await sleep(100);
    expect(overdue).toEqual([[102, { version: 5, held: 4, waitedMs: expect.any(Number) }]]);
    expect(overdue[0]?.[1].waitedMs).toBeGreaterThanOrEqual(59);
  });

  it('a worker that confirms a later version in time, or starts after the version was sent, is not overdue', async () => {
    const { versions, overdue } = watched<number>((pid) => pid);
    versions.started(101, 4);
    versions.sent(5, 30);
    versions.sent(6, 30);
    versions.applied(101, 6);
    // A replacement starts with the version in force: it cannot be late for one sent before it.
    versions.started(102, 6);
    await sleep(80);
    expect(overdue).toEqual([]);
  });

  it('judges after reading the confirmations that arrived while the event loop was held past the deadline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'worker-versions-'));
    const inPipe = join(dir, 'sent');
    // A real IPC pipe: the child confirms version 2 at once, then marks that its message is written.
    const script = `process.send(2, () => require('node:fs').writeFileSync(${JSON.stringify(inPipe)}, ''));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    onTestFinished(() => {
      child.kill();
    });
    const { versions, overdue } = watched<ChildProcess>((worker) => worker.pid);
    child.on('message', (version) => versions.applied(child, Number(version)));
    versions.started(child, 1);
    versions.sent(2, 10);
    // Held, as a busy primary would be, past the deadline and until the confirmation waits unread.
    const heldUntil = Date.now() + 5_000;
    while (!existsSync(inPipe) && Date.now() < heldUntil) {
      // busy: no event is handled
    }
    expect(existsSync(inPipe)).toBe(true);
    await sleep(50);
    expect(overdue).toEqual([]);
    expect(versions.lagging(2)).toEqual([]);
  });
});
