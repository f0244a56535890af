import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicyChange } from '@edge451/policy';

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
  ) {
    this.file = join(dir, 'audit.jsonl');
    this.nextSeq = (entries.at(-1)?.seq ?? 0) + 1;
  }

  /**
   * Opens and reads the existing log; a torn last line is ignored. Creates the folder unless `readOnly`
   * (`edge451 decide` reads the state without leaving a folder behind).
   */
  static async open(dir: string, options: { readOnly?: boolean } = {}): Promise<AuditLog> {
    if (options.readOnly !== true) await mkdir(dir, { recursive: true });
    const text = await readFile(join(dir, 'audit.jsonl'), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const entries: AuditEntry[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line) as AuditEntry);
      } catch {
        // A crash mid-write leaves at most one partial line; it was never acknowledged.
      }
    }
    return new AuditLog(dir, entries);
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
