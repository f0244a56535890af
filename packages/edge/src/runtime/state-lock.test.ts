import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../config/config-error.js';
import { LOCK_FILE, lockStateDir } from './state-lock.js';

// The state directory's lock on real files: one holder at a time, a dead holder's lock taken over.

function quietLogger() {
  const warn = vi.fn();
  return { logger: { warn } as unknown as Logger, warn };
}

async function stateDir(holder?: Record<string, unknown>): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'edge451-lock-')), 'state');
  if (holder !== undefined) {
    await mkdir(dir);
    await writeFile(join(dir, LOCK_FILE), `${JSON.stringify(holder)}\n`);
  }
  return dir;
}

async function refusal(dir: string): Promise<string> {
  const error = await lockStateDir(dir, quietLogger().logger).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  expect(error.issues).toHaveLength(1);
  expect(error.issues[0]?.file).toBe(join(dir, LOCK_FILE));
  return String(error.issues[0]?.message);
}

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid ?? 0;
}

/** This machine's start time of a live process, as the lock stores it. */
async function procStartOf(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  return String(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
}

describe('lockStateDir', () => {
  it('holds the directory with its pid; a second holder in this process is refused; release frees it', async () => {
    const dir = await stateDir();
    const lock = await lockStateDir(dir, quietLogger().logger);
    expect(JSON.parse(await readFile(lock.file, 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
      startedAt: expect.any(String),
    });
    expect(await refusal(dir)).toContain(`held by this process (pid ${process.pid}`);
    await lock.release();
    await expect(stat(lock.file)).rejects.toThrow(/ENOENT/);
    await (await lockStateDir(dir, quietLogger().logger)).release();
  });

  it('a lock naming a live process is refused, naming its pid and how to proceed', async () => {
    const pid = process.ppid;
    const dir = await stateDir({
      pid,
      host: hostname(),
      startedAt: 'then',
      procStart: await procStartOf(pid),
    });
    const message = await refusal(dir);
    expect(message).toContain(`held by a running process, pid ${pid} on ${hostname()}`);
    expect(message).toContain('stop the other node, or give this one its own state.dir');
  });

  it('a lock naming another host cannot be checked and is refused; one that is no lock is refused', async () => {
    expect(await refusal(await stateDir({ pid: 1, host: 'elsewhere', startedAt: 'then' }))).toContain(
      'another host',
    );
    const dir = await stateDir();
    await mkdir(dir);
    await writeFile(join(dir, LOCK_FILE), 'garbage');
    expect(await refusal(dir)).toContain('no holder');
  });

  it('a lock left by a process that is gone, or whose pid now runs another process, is taken over with a warning', async () => {
    const gone = await deadPid();
    const reused = { pid: process.ppid, procStart: '1' }; // the pid is alive, but started at another time
    const ownEarlierLife = { pid: process.pid }; // pid 1 of a restarted container
    for (const holder of [{ pid: gone }, reused, ownEarlierLife]) {
      const dir = await stateDir({ ...holder, host: hostname(), startedAt: 'then' });
      const { logger, warn } = quietLogger();
      const lock = await lockStateDir(dir, logger);
      expect(JSON.parse(await readFile(lock.file, 'utf8'))).toMatchObject({ pid: process.pid });
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({ lock: lock.file, stale_pid: holder.pid }),
        'state directory lock left by a process that is gone; replaced',
      );
      await lock.release();
    }
  });

  it('release leaves a lock that is no longer this process’s', async () => {
    const dir = await stateDir();
    const lock = await lockStateDir(dir, quietLogger().logger);
    const other = `${JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: 'then' })}\n`;
    await writeFile(lock.file, other);
    await lock.release();
    expect(await readFile(lock.file, 'utf8')).toBe(other);
  });
});
