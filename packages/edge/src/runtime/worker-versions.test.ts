import { describe, expect, it } from 'vitest';
import { within } from './in-force.js';
import { WorkerVersions } from './worker-versions.js';

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
