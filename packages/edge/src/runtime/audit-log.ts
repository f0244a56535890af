import type { Stats } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicyChange } from '@edge451/policy';
import { ConfigError } from '../config/config-error.js';
import { EdgeError } from '../errors.js';
import { readAuditText } from './audit-read.js';
import type { AuditEntry, AuditView, InForceRecord } from './audit-record.js';

export type { AuditEntry, AuditView, InForceRecord } from './audit-record.js';

/**
 * Append-only JSON-lines log in the state directory: change entries, each followed (not necessarily on
 * the next line) by its in-force record once the change is in force (audit-record.ts). Each append is
 * fsynced before it resolves, so a change the admin API acknowledged survives a crash. Appends are
 * serialised: `seq` order is file order.
 *
 * The file is held open from `open` on, and every append first checks that the file at the path is still
 * the one held, at the size this process left it: a log rotated, replaced or cut under the node would
 * otherwise start a second log (or continue a stranger's), and the changes stored before would silently
 * drop out of the next start-up's replay. A failed append is cut back off, so no torn bytes ever precede
 * the next line; if even that fails, every later append is refused until the node is restarted.
 */
export class AuditLog {
  private readonly file: string;
  private tail: Promise<unknown> = Promise.resolve();
  private nextSeq = 1;
  /** Why appending is refused for good (a failed append could not be cut back off), if it is. */
  private broken: EdgeError | undefined;

  private constructor(
    readonly dir: string,
    private entries: AuditEntry[],
    /** In-force instants by entry `seq`. */
    private readonly inForce: Map<number, string>,
    /** Bytes of a torn last line found (and cut off) at open; 0 for a clean log. */
    readonly droppedTailBytes: number,
    /** The file appended to; undefined for a log opened read-only. */
    private readonly handle: FileHandle | undefined,
    /** The held file's identity, and its length as this process last left it. */
    private readonly identity: { dev: number; ino: number },
    private size: number,
  ) {
    this.file = join(dir, 'audit.jsonl');
    this.nextSeq = (entries.at(-1)?.seq ?? 0) + 1;
  }

  /**
   * Opens and reads the existing log (audit-read.ts says what is checked). Creates the folder and file
   * unless `readOnly` (`edge451 decide` reads the state without leaving anything behind, and never writes).
   * - Bytes after the last newline are an append a crash cut short, never acknowledged (an append is
   *   answered once its line, newline included, is on disk): they are ignored, and cut off the file unless
   *   `readOnly`, so the next append starts on a line of its own (`droppedTailBytes` says how many).
   * - Any other damage throws a ConfigError naming the file and each line, with what was expected: the
   *   node does not start on a log it cannot trust rather than replay the changes around the damage.
   */
  static async open(dir: string, options: { readOnly?: boolean } = {}): Promise<AuditLog> {
    const readOnly = options.readOnly === true;
    const file = join(dir, 'audit.jsonl');
    if (readOnly) {
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return '';
        throw error;
      });
      const read = check(file, text);
      return new AuditLog(dir, read.entries, read.inForce, read.tornTailBytes, undefined, NO_FILE, 0);
    }
    await mkdir(dir, { recursive: true });
    // Read through the handle kept for appending: what is checked is the file appended to.
    const handle = await open(file, 'a+');
    try {
      const text = await handle.readFile('utf8');
      const read = check(file, text);
      const size = Buffer.byteLength(text) - read.tornTailBytes;
      if (read.tornTailBytes > 0) {
        await handle.truncate(size);
        await handle.datasync();
      }
      const { dev, ino } = await handle.stat();
      return new AuditLog(dir, read.entries, read.inForce, read.tornTailBytes, handle, { dev, ino }, size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Stored changes, oldest first: what start-up and reload replay over the policy files. */
  changes(): PolicyChange[] {
    return this.entries.flatMap((entry) => (entry.change === undefined ? [] : [entry.change]));
  }

  /** The newest entries first, at most `limit`, each with its in-force instant (null if none is stored). */
  recent(limit: number): AuditView[] {
    return this.entries
      .slice(-limit)
      .reverse()
      .map((entry) => ({ ...entry, inForceAt: this.inForce.get(entry.seq) ?? null }));
  }

  /**
   * Appends an entry durably; resolves with the stored entry once it is on disk. Rejects with an
   * `EDGE_AUDIT_LOG_REFUSED` EdgeError when it could not be stored: nothing of it is left in the file.
   */
  append(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    return this.appendLine(
      () => ({ seq: this.nextSeq, ...entry }),
      (stored) => {
        this.nextSeq += 1;
        this.entries.push(stored);
      },
    );
  }

  /** Appends durably that the change of entry `seq` (which made `version`) is in force since `atMs`. */
  appendInForce(seq: number, version: number, atMs: number): Promise<InForceRecord> {
    const record: InForceRecord = { kind: 'in-force', seq, version, at: new Date(atMs).toISOString() };
    return this.appendLine(
      () => record,
      (stored) => this.inForce.set(stored.seq, stored.at),
    );
  }

  /** Closes the file once the appends already asked for are done (clean shutdown). */
  async close(): Promise<void> {
    await this.tail;
    await this.handle?.close();
  }

  /**
   * Writes one line after every earlier append, fsynced. `make` runs when the line's turn has come and
   * `stored` once it is on disk, both before the next append starts.
   */
  private appendLine<T>(make: () => T, stored: (line: T) => void): Promise<T> {
    const run = this.tail.then(async () => {
      const handle = await this.usableHandle();
      const line = make();
      const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
      try {
        await handle.appendFile(bytes);
        await handle.datasync();
      } catch (error) {
        await this.cutBack(handle, error);
        throw refusal(
          `could not be stored in ${this.file} (${describe(error)}); nothing of it was kept`,
          error,
        );
      }
      this.size += bytes.length;
      stored(line);
      return line;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** The held file, once it is known to still be the log at the path, as this process left it. */
  private async usableHandle(): Promise<FileHandle> {
    if (this.broken !== undefined) throw this.broken;
    if (this.handle === undefined) throw refusal(`${this.file} was opened read-only`);
    const [held, named] = await Promise.all([
      this.handle.stat(),
      stat(this.file).catch((error: NodeJS.ErrnoException): Stats | undefined => {
        if (error.code === 'ENOENT') return undefined;
        throw refusal(`${this.file} cannot be checked (${describe(error)})`, error);
      }),
    ]);
    const { dev, ino } = this.identity;
    if (named === undefined || named.dev !== dev || named.ino !== ino) {
      throw refusal(
        `${this.file} is no longer the file this node opened at start-up (moved, deleted or replaced while ` +
          'it runs; logrotate must not rotate it). Changes are refused rather than written to another file, ' +
          'which would drop the changes stored before from the next start-up: put the file back, or stop ' +
          'the node and repair the log (see "Repairing the state directory" in the @edge451/edge README)',
      );
    }
    if (held.size !== this.size) {
      throw refusal(
        `${this.file} is ${held.size} bytes where this node left ${this.size}: something else wrote to it or ` +
          'cut it (another node on this state directory?). Changes are refused rather than appended after ' +
          'lines this node cannot account for: stop the node and check the log (see "Repairing the state ' +
          'directory" in the @edge451/edge README)',
      );
    }
    return this.handle;
  }

  /**
   * Cuts the file back to its length before a failed append: a torn line left in place would glue itself
   * to the next acknowledged one and make the log unloadable. When that fails too, the log ends in bytes
   * this process cannot remove, and nothing may be appended after them: appending is refused for good.
   */
  private async cutBack(handle: FileHandle, cause: unknown): Promise<void> {
    try {
      await handle.truncate(this.size);
      await handle.datasync();
    } catch (error) {
      this.broken = refusal(
        `${this.file} could not be cut back after a failed append (${describe(cause)}; then ` +
          `${describe(error)}), so it may end in a partial line, and nothing is appended after one. Restart ` +
          'the node once the disk is writable: start-up cuts off a partial last line. If the last line is ' +
          'complete instead, it is the refused change, which the next start-up would replay: remove it ' +
          'if that change is not wanted',
        error,
      );
      throw this.broken;
    }
  }
}

/** Identity of no file: a read-only log never appends, so never compares it. */
const NO_FILE = { dev: -1, ino: -1 };

function check(file: string, text: string) {
  const read = readAuditText(file, text);
  if (read.issues.length > 0) throw new ConfigError(read.issues);
  return read;
}

/** A change the log cannot store: the admin API answers 500 with this message, the policy stays. */
function refusal(message: string, cause?: unknown): EdgeError {
  return new EdgeError('EDGE_AUDIT_LOG_REFUSED', 'internal', `audit log: ${message}`, { cause });
}

function describe(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
}
