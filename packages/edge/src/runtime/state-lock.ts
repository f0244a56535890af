import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../config/config-error.js';

/** The state directory held by this process until `release` (clean shutdown). */
export type StateLock = { readonly file: string; release(): Promise<void> };

/** Who holds a state directory, as its lock file says. */
type Holder = { pid: number; host: string; startedAt: string; procStart?: string };

export const LOCK_FILE = 'edge451.lock';

/** Lock files this process holds: a second node in one process is refused like one in another. */
const heldHere = new Set<string>();

/**
 * Takes the state directory for this process. Two nodes on one directory would each number their own
 * changes and append to one log (duplicate seqs, each enforcing a policy the other does not have), so a
 * directory whose lock names a live process is refused with a ConfigError naming its pid and the lock.
 * A lock left by a process that is gone (SIGKILL, a crash, a power cut) is taken over with a warning: its
 * pid is no longer running, or now belongs to another process (its start time differs), or is this
 * process's own (a container's pid 1 after a restart). A lock naming another host cannot be checked and is
 * refused. Only the process that owns the state locks it: the node, or a cluster's primary.
 */
export async function lockStateDir(dir: string, logger: Logger): Promise<StateLock> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const me: Holder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date(performance.timeOrigin).toISOString(),
    ...optional('procStart', await procStart('self')),
  };
  const text = `${JSON.stringify(me)}\n`;
  // A few rounds: a stale lock another starting node took over first is looked at again.
  for (let round = 0; round < 5; round += 1) {
    if (await create(file, text)) {
      heldHere.add(file);
      return { file, release: () => release(file, text) };
    }
    const found = await readFile(file, 'utf8').catch(absentAs(undefined));
    if (found === undefined) continue; // released meanwhile
    const holder = parseHolder(found);
    if (holder === undefined)
      throw refused(file, `its lock file holds ${JSON.stringify(found.slice(0, 200))}, no holder`);
    const live = await isLive(holder, file);
    if (live !== false) throw refused(file, live);
    if (await takeOver(file, found)) {
      logger.warn(
        { lock: file, stale_pid: holder.pid, stale_started_at: holder.startedAt },
        'state directory lock left by a process that is gone; replaced',
      );
    }
  }
  throw refused(file, 'it kept changing hands while this node started');
}

/** Creates the lock with its content in one step (a link is atomic and fails if the name exists). */
async function create(file: string, text: string): Promise<boolean> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text);
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(absentAs(undefined));
  }
}

/**
 * Removes a stale lock unless it changed since it was read: it is moved aside first and put back if it is
 * no longer the stale one (another starting node took it over and now holds it). True if it was removed.
 */
async function takeOver(file: string, stale: string): Promise<boolean> {
  const aside = `${file}.${process.pid}.stale`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const moved = await readFile(aside, 'utf8');
  if (moved !== stale) await link(aside, file).catch(() => undefined);
  await unlink(aside);
  return moved === stale;
}

/** Removes the lock if it is still this process's. */
async function release(file: string, mine: string): Promise<void> {
  heldHere.delete(file);
  const found = await readFile(file, 'utf8').catch(absentAs(undefined));
  if (found === mine) await unlink(file).catch(absentAs(undefined));
}

/** False when the holder is gone, else why it counts as live (for the refusal). */
async function isLive(holder: Holder, file: string): Promise<false | string> {
  const who = `pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}`;
  if (holder.host !== hostname()) {
    return `it is held by ${who}, another host, whose process cannot be checked from here`;
  }
  if (holder.pid === process.pid) {
    // This pid's earlier life (pid 1 in a restarted container), unless this very process holds it.
    return heldHere.has(file) ? `it is held by this process (${who}) already` : false;
  }
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: the process exists, run by another user.
  }
  const stat = await readFile(`/proc/${holder.pid}/stat`, 'utf8').catch(() => undefined);
  if (stat !== undefined) {
    const fields = statFields(stat);
    if (fields[0] === 'Z') return false; // exited, not yet reaped: it holds nothing
    if (holder.procStart !== undefined && fields[19] !== holder.procStart) return false; // pid reused
  }
  return `it is held by a running process, ${who}`;
}

/** The kernel's start time of a process (clock ticks since boot), or undefined off Linux. */
async function procStart(pid: 'self' | number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined ? undefined : statFields(stat)[19];
}

/** /proc/<pid>/stat from its 3rd field (state) on; the command name before it may hold spaces. */
function statFields(stat: string): string[] {
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    if (!Number.isInteger(value.pid) || typeof value.host !== 'string') return undefined;
    return value as Holder;
  } catch {
    return undefined;
  }
}

function refused(file: string, why: string): ConfigError {
  return new ConfigError([
    {
      file,
      path: '',
      message:
        `expected this state directory to be free, but ${why}. Two nodes on one state directory would ` +
        'append to one audit log, each with its own numbering and policy: stop the other node, or give ' +
        'this one its own state.dir. If no node uses this directory, remove the lock file',
    },
  ]);
}

function absentAs<T>(value: T) {
  return (error: NodeJS.ErrnoException): T => {
    if (error.code === 'ENOENT') return value;
    throw error;
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
