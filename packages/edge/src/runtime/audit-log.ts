import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicyChange } from '@edge451/policy';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../config/config-error.js';

/** One line of the audit log: who changed what, when, and the policy version before and after. */
export type AuditEntry = {
  seq: number;
  at: string;
  actor: string;
  action: PolicyChange['type'] | 'reload' | 'start';
  /** Present for changes, which are replayed over the policy files at start-up and reload (DECISIONS #13). */
  change?: PolicyChange;
  versionBefore: number;
  versionAfter: number;
  note?: string;
};

/**
 * Append-only JSON-lines log in the state directory. Each append is fsynced before it resolves, so a change
 * the admin API acknowledged survives a crash. Appends are serialised: `seq` order is file order.
 */
export class AuditLog {
  private readonly file: string;
  private tail: Promise<unknown> = Promise.resolve();
  private nextSeq = 1;

  private constructor(
    readonly dir: string,
    private entries: AuditEntry[],
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
   *   naming the file and line rather than replay the changes around it, which could undo blocks.
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
    const damaged: ConfigIssue[] = [];
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      const entry = parseEntry(line);
      if (entry !== undefined) entries.push(entry);
      else damaged.push({ file, line: index + 1, path: '', message: DAMAGED_LINE });
    });
    if (damaged.length > 0) throw new ConfigError(damaged);
    const droppedTailBytes = Buffer.byteLength(tail);
    if (droppedTailBytes > 0 && options.readOnly !== true) {
      await truncate(file, Buffer.byteLength(text) - droppedTailBytes);
    }
    return new AuditLog(dir, entries, droppedTailBytes);
  }

  /** Stored changes, oldest first: what start-up and reload replay over the policy files. */
  changes(): PolicyChange[] {
    return this.entries.flatMap((entry) => (entry.change === undefined ? [] : [entry.change]));
  }

  /** The newest entries first, at most `limit`. */
  recent(limit: number): AuditEntry[] {
    return this.entries.slice(-limit).reverse();
  }

  /** Appends durably; resolves with the stored entry once it is on disk. */
  append(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    const run = this.tail.then(async () => {
      const stored: AuditEntry = { seq: this.nextSeq, ...entry };
      const handle = await open(this.file, 'a');
      try {
        await handle.appendFile(`${JSON.stringify(stored)}\n`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      this.nextSeq += 1;
      this.entries.push(stored);
      return stored;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}

const DAMAGED_LINE =
  'expected an audit entry (a JSON object with seq, at, actor, action and versions); the log is damaged ' +
  'here: restore the line from a backup, or remove it knowing the change it held will not be replayed';

// What replay needs of an entry; the change itself is checked by the policy when it is replayed.
const entrySchema = z.object({
  seq: z.number().int().positive(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  change: z.record(z.string(), z.unknown()).optional(),
  versionBefore: z.number().int(),
  versionAfter: z.number().int(),
  note: z.string().optional(),
});

function parseEntry(line: string): AuditEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  return entrySchema.safeParse(value).success ? (value as AuditEntry) : undefined;
}
