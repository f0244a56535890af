import type { ConfigIssue } from '../config/config-error.js';
import { type AuditEntry, parseAuditLine, storedChangeIssues } from './audit-record.js';

/** What a log's text holds once checked: its entries in file order and the in-force instants by `seq`. */
export type AuditContents = {
  entries: AuditEntry[];
  inForce: Map<number, string>;
  /** Bytes after the last newline: an append a crash cut short, never acknowledged (0 for a clean log). */
  tornTailBytes: number;
  /** Every line that cannot be trusted, each naming `file` and its line; empty when the log is sound. */
  issues: ConfigIssue[];
};

const REPAIR = 'see "Repairing the state directory" in the @edge451/edge README';

/**
 * Checks the text of `audit.jsonl` line by line. The log is evidence and the list of stored blocks, so
 * anything this process cannot explain is reported rather than replayed around, which could undo blocks:
 * - a line that is neither an entry nor an in-force record, or an entry whose change is damaged (its shape
 *   checked by the policy's own rule, whatever the files say);
 * - entries whose `seq` do not number 1, 2, 3… in file order: a gap is a change missing (a log rotated or
 *   moved away under a running node, a line deleted), a repeat a change replayed twice or out of order;
 * - an in-force record that names no entry before it, another version than that entry's, or an entry
 *   that already has one: evidence that does not match what it attests.
 */
export function readAuditText(file: string, text: string): AuditContents {
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const entries: AuditEntry[] = [];
  const bySeq = new Map<number, AuditEntry>();
  const inForce = new Map<number, string>();
  const issues: ConfigIssue[] = [];
  // After the first break the numbering of the lines below says nothing more: one issue, where it broke.
  let numbered = true;
  lines.forEach((text, index) => {
    if (text.trim() === '') return;
    const line = index + 1;
    const parsed = parseAuditLine(text);
    if (parsed === undefined) {
      issues.push({ file, line, path: '', message: DAMAGED_LINE });
      return;
    }
    if ('entry' in parsed) {
      const { entry } = parsed;
      const expected = entries.length + 1;
      if (numbered && entry.seq !== expected) {
        numbered = false;
        issues.push({ file, line, path: 'seq', message: misnumbered(expected, entry.seq) });
      }
      for (const issue of storedChangeIssues(entry)) {
        issues.push({ file, line, path: issue.path, message: `${issue.message}; ${DAMAGED_CHANGE}` });
      }
      entries.push(entry);
      bySeq.set(entry.seq, entry);
      return;
    }
    const record = parsed.inForce;
    if (bySeq.get(record.seq)?.versionAfter !== record.version) {
      issues.push({ file, line, path: '', message: UNMATCHED_IN_FORCE });
    } else if (inForce.has(record.seq)) {
      issues.push({ file, line, path: '', message: REPEATED_IN_FORCE });
    } else {
      inForce.set(record.seq, record.at);
    }
  });
  return { entries, inForce, tornTailBytes: Buffer.byteLength(tail), issues };
}

function misnumbered(expected: number, found: number): string {
  const rule = `expected the entry with seq ${expected} (entries number 1, 2, 3… in file order), found seq ${found}`;
  if (found > expected) {
    const missing =
      found - 1 === expected ? `entry ${expected} is` : `entries ${expected} to ${found - 1} are`;
    return (
      `${rule}: ${missing} missing (was the log rotated, moved or cut while a node ran?), and starting ` +
      `without them would silently drop their changes; put the missing lines back in place (those of a ` +
      `rotated file go before this line), or ${REPAIR}`
    );
  }
  return (
    `${rule}: this entry repeats an earlier seq or is out of place (a restore or copy merged onto the ` +
    `log?), and replaying it would apply its change twice or out of order; remove the line if it is a ` +
    `copy of entry ${found}, or ${REPAIR}`
  );
}

const DAMAGED_LINE =
  'expected an audit entry (a JSON object with seq, at, actor, action and versions) or an in-force ' +
  'record; the log is damaged here: restore the line from a backup, or ' +
  REPAIR;

const DAMAGED_CHANGE =
  'this stored change is damaged and replaying the log without it could undo a block: restore the line ' +
  `from a backup or correct the field, or ${REPAIR}`;

const UNMATCHED_IN_FORCE =
  'expected an in-force record to follow the entry it names (same seq and version); the log is damaged ' +
  'here: restore the line from a backup, or remove it knowing that change has no in-force instant';

const REPEATED_IN_FORCE =
  'expected one in-force record per entry, found a second one for this seq; the log is damaged here: ' +
  'remove the line that is not the original (a repeated copy), knowing the instant it gives is then gone';
