import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicyChange } from '@edge451/policy';
import { ConfigError, type ConfigIssue } from '../config/config-error.js';
import { type AuditEntry, type AuditView, type InForceRecord, parseAuditLine } from './audit-record.js';

export type { AuditEntry, AuditView, InForceRecord } from './audit-record.js';

/**
 * Append-only JSON-lines log in the state directory: change entries, each followed (not necessarily on
 * the next line) by its in-force record once the change is in force (audit-record.ts). Each append is
 * fsynced before it resolves, so a change the admin API acknowledged survives a crash. Appends are
 * serialised: `seq` order is file order.
 */
export class AuditLog {
  private readonly file: string;
  private tail: Promise<unknown> = Promise.resolve();
  private nextSeq = 1;

  private constructor(
    readonly dir: string,
    private entries: AuditEntry[],
    /** In-force instants by entry `seq`. */
    private readonly inForce: Map<number, string>,
    /** Bytes of a torn last line found (and cut off) at open; 0 for a clean log. */
    readonly droppedTailBytes: number,
  ) {
    this.file = join(dir, 'audit.jsonl');
    this.nextSeq = (entries.at(-1)?.seq ?? 0) + 1;
  }

  /**
   * Opens and reads the existing log. Creates the folder unless `readOnly` (`edge451 decide` reads the
   * state without leaving a folder behind).
   * - Bytes after the last newline are an append a crash cut short, never acknowledged (an append is
   *   answered once its line, newline included, is on disk): they are ignored, and cut off the file unless
   *   `readOnly`, so the next append starts on a line of its own (`droppedTailBytes` says how many).
   * - Any other line that is not an entry is damage this process cannot explain: it throws a ConfigError
   *   naming the file and line rather than replay the changes around it, which could undo blocks. So is an
   *   in-force record that names no entry before it, or another version than that entry's: evidence that
   *   does not match what it attests.
   */
  static async open(dir: string, options: { readOnly?: boolean } = {}): Promise<AuditLog> {
    if (options.readOnly !== true) await mkdir(dir, { recursive: true });
    const file = join(dir, 'audit.jsonl');
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const lines = text.split('\n');
    const tail = lines.pop() ?? '';
    const entries: AuditEntry[] = [];
    const bySeq = new Map<number, AuditEntry>();
    const inForce = new Map<number, string>();
    const damaged: ConfigIssue[] = [];
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      const parsed = parseAuditLine(line);
      const fault = parsed === undefined ? DAMAGED_LINE : undefined;
      if (parsed !== undefined && 'entry' in parsed) {
        entries.push(parsed.entry);
        bySeq.set(parsed.entry.seq, parsed.entry);
        return;
      }
      if (parsed !== undefined && bySeq.get(parsed.inForce.seq)?.versionAfter === parsed.inForce.version) {
        inForce.set(parsed.inForce.seq, parsed.inForce.at);
        return;
      }
      damaged.push({ file, line: index + 1, path: '', message: fault ?? UNMATCHED_IN_FORCE });
    });
    if (damaged.length > 0) throw new ConfigError(damaged);
    const droppedTailBytes = Buffer.byteLength(tail);
    if (droppedTailBytes > 0 && options.readOnly !== true) {
      await truncate(file, Buffer.byteLength(text) - droppedTailBytes);
    }
    return new AuditLog(dir, entries, inForce, droppedTailBytes);
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

  /** Appends an entry durably; resolves with the stored entry once it is on disk. */
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

  /**
   * Writes one line after every earlier append, fsynced. `make` runs when the line's turn has come and
   * `stored` once it is on disk, both before the next append starts.
   */
  private appendLine<T>(make: () => T, stored: (line: T) => void): Promise<T> {
    const run = this.tail.then(async () => {
      const line = make();
      const handle = await open(this.file, 'a');
      try {
        await handle.appendFile(`${JSON.stringify(line)}\n`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      stored(line);
      return line;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}

const DAMAGED_LINE =
  'expected an audit entry (a JSON object with seq, at, actor, action and versions) or an in-force ' +
  'record; the log is damaged here: restore the line from a backup, or remove it knowing the change it ' +
  'held will not be replayed';

const UNMATCHED_IN_FORCE =
  'expected an in-force record to follow the entry it names (same seq and version); the log is damaged ' +
  'here: restore the line from a backup, or remove it knowing that change has no in-force instant';
