import { changeShapeIssues, type PolicyChange } from '@edge451/policy';
import { z } from 'zod';

/**
 * One change line of the audit log: who changed what, when it was recorded, and the policy version before
 * and after. `at` is the instant the entry was stamped, before it was written and before the change was
 * swapped in (write-ahead: nothing is enforced that is not recorded); when the change was in force is the
 * in-force record's instant.
 */
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
 * The second line of a change, appended once the change is in force on this node: every process that
 * decides requests (the node itself, or every worker of a cluster) has confirmed `version`, the entry's
 * `versionAfter`. Any request decided after `at` was decided with the change. `seq` is the entry's.
 * `kind` tells it from an entry; replay ignores it, so logs written before it existed load as before.
 */
export type InForceRecord = { kind: 'in-force'; seq: number; version: number; at: string };

/** An entry as the admin API shows it: with its in-force instant, null while (or if never) proven. */
export type AuditView = AuditEntry & { inForceAt: string | null };

// What replay needs of an entry; the stored change is checked by storedChangeIssues.
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

const inForceSchema = z.strictObject({
  kind: z.literal('in-force'),
  seq: z.number().int().positive(),
  version: z.number().int(),
  at: z.iso.datetime(),
});

export type AuditLine = { entry: AuditEntry } | { inForce: InForceRecord };

/** One complete line of the log, or undefined when it is neither an entry nor an in-force record. */
export function parseAuditLine(line: string): AuditLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (kind !== undefined) {
    return inForceSchema.safeParse(value).success ? { inForce: value as InForceRecord } : undefined;
  }
  return entrySchema.safeParse(value).success ? { entry: value as AuditEntry } : undefined;
}

/** Entries that carry no change: a SIGHUP's reload, and a start (kept for logs that hold one). */
const ACTIONS_WITHOUT_CHANGE: readonly string[] = ['reload', 'start'];

/**
 * What is wrong with an entry's stored change as it stands, whatever the policy files say (paths from the
 * entry: `change.hosts[0]`). A damaged change (a flipped byte that still parses) must not be mistaken at
 * replay for a change the files no longer have room for, which is skipped: that would undo a block with a
 * warning only. The shape is the policy's own rule (`changeShapeIssues`), and the entry's `action` must
 * name the change's type.
 */
export function storedChangeIssues(entry: AuditEntry): { path: string; message: string }[] {
  const change = entry.change as unknown;
  if (change === undefined) {
    return ACTIONS_WITHOUT_CHANGE.includes(entry.action)
      ? []
      : [
          {
            path: 'action',
            message: `expected ${ACTIONS_WITHOUT_CHANGE.map((action) => JSON.stringify(action)).join(' or ')} for an entry without a change, found ${JSON.stringify(entry.action)}`,
          },
        ];
  }
  const issues = changeShapeIssues(change).map((issue) => ({
    path: issue.path === '' ? 'change' : `change.${issue.path}`,
    message: issue.message,
  }));
  const type = (change as { type?: unknown }).type;
  if (issues.length === 0 && entry.action !== type) {
    issues.push({
      path: 'action',
      message: `expected ${JSON.stringify(type)}, the type of the stored change, found ${JSON.stringify(entry.action)}`,
    });
  }
  return issues;
}
