import {
  compilePolicy,
  loadPolicyFiles,
  type Policy,
  type PolicyChange,
  type PolicyDocument,
} from '@edge451/policy';
import type { Logger } from 'pino';
import type { AuditEntry, AuditLog } from './audit-log.js';
import { type EnforcementWatch, IN_FORCE_WAIT_MS, inThisProcess, within } from './in-force.js';

export type PolicySource = { files: string[]; unknownCountry: 'allow' | 'block' };

/** Called after a new snapshot is in force, with the change that made it (none for a reload). */
export type PolicyListener = (policy: Policy, before: Policy, change: PolicyChange | undefined) => void;

/** What the request path needs of the policy: the snapshot in force, and word when it changes. */
export type PolicyView = { current(): Policy; onChange(listener: PolicyListener): void };

/**
 * A change made: the snapshot, its audit entry, and the instant from which it is in force on this node as
 * stored in the audit log; null when that was not proven and stored within IN_FORCE_WAIT_MS (the record
 * is still appended once it is).
 */
export type AppliedChange = { policy: Policy; entry: AuditEntry; inForceAt: string | null };

/**
 * The policy in force on this node: the policy files as the baseline, stored admin changes replayed on top
 * (DECISIONS #13). Readers call `current()` per request and get an immutable snapshot; writers go through
 * `apply`/`reload`, serialised, so no reader ever sees a half-applied change.
 */
export class PolicyState implements PolicyView {
  private policy: Policy;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners: PolicyListener[] = [];

  private constructor(
    private source: PolicySource,
    private readonly audit: AuditLog,
    private readonly logger: Logger,
    initial: Policy,
    private readonly enforcement: EnforcementWatch,
  ) {
    this.policy = initial;
  }

  /**
   * Loads files + stored changes. Throws the policy's validation error when the files are invalid.
   * `enforcement` says when a version is in force where requests are decided (a cluster's workers).
   */
  static async load(
    source: PolicySource,
    audit: AuditLog,
    logger: Logger,
    enforcement: EnforcementWatch = inThisProcess,
  ): Promise<PolicyState> {
    // After every version the log names: a reload numbers its policy past the running one, so a restart
    // numbering from 1 again would reuse versions the log gave other policies (in answers, metrics and
    // in-force records). A fresh state directory starts at 1.
    const policy = await build(source, audit, logger, highestStoredVersion(audit) + 1);
    return new PolicyState(source, audit, logger, policy, enforcement);
  }

  current(): Policy {
    return this.policy;
  }

  onChange(listener: PolicyListener): void {
    this.listeners.push(listener);
  }

  /**
   * Validates, stores durably, swaps in the new snapshot, then waits (at most IN_FORCE_WAIT_MS) until it is
   * in force on this node and that instant is stored too. Rejects with the policy's PolicyValidationError
   * (→ 400) before anything is stored; the previous policy stays in force.
   */
  async apply(change: PolicyChange, actor: string): Promise<AppliedChange> {
    const made = await this.serialised(async () => {
      const before = this.policy;
      const after = before.apply(change);
      // The applied form carries the instant the policy gave the change (`at` filled in): replaying it at
      // start-up or on a worker yields the same dates, not the replay time.
      const applied = after.lastChange ?? change;
      // Write-ahead: the entry is on disk before the change is enforced anywhere. Its `at` is when it was
      // recorded; when it was in force is the in-force record's, taken after the swap.
      const entry = await this.audit.append({
        at: new Date().toISOString(),
        actor,
        action: change.type,
        change: applied,
        versionBefore: before.version,
        versionAfter: after.version,
      });
      this.swap(after, before, applied);
      return { policy: after, entry, inForce: this.recordInForce(entry) };
    });
    return {
      policy: made.policy,
      entry: made.entry,
      inForceAt: await this.waitInForce(made.entry, made.inForce),
    };
  }

  /** Re-reads the policy files (SIGHUP). An invalid file is refused: the running policy stays. */
  async reload(source: PolicySource = this.source, actor = 'signal'): Promise<Policy> {
    const made = await this.serialised(async () => {
      const before = this.policy;
      const after = await build(source, this.audit, this.logger, before.version + 1);
      this.source = source;
      const entry = await this.audit.append({
        at: new Date().toISOString(),
        actor,
        action: 'reload',
        versionBefore: before.version,
        versionAfter: after.version,
      });
      this.swap(after, before, undefined);
      return { policy: after, entry, inForce: this.recordInForce(entry) };
    });
    await this.waitInForce(made.entry, made.inForce);
    return made.policy;
  }

  /**
   * Appends the entry's in-force record once its version is in force; resolves with the stored instant.
   * Started right after the swap and never rejects: it outlives a late answer, and a record that cannot be
   * stored is logged (the change is in force; the log cannot say since when).
   */
  private recordInForce(entry: AuditEntry): Promise<string | null> {
    const version = entry.versionAfter;
    return this.enforcement
      .inForce(version)
      .then((atMs) => this.audit.appendInForce(entry.seq, version, atMs))
      .then(
        (record) => record.at,
        (error: unknown) => {
          this.logger.error(
            { err: error, seq: entry.seq, policy_version: version },
            'in-force record could not be stored; the change is in force but the audit log does not say since when',
          );
          return null;
        },
      );
  }

  private async waitInForce(entry: AuditEntry, inForce: Promise<string | null>): Promise<string | null> {
    const at = await within(inForce, IN_FORCE_WAIT_MS);
    if (at !== undefined) return at;
    this.logger.error(
      {
        seq: entry.seq,
        policy_version: entry.versionAfter,
        waited_ms: IN_FORCE_WAIT_MS,
        worker_pids: this.enforcement.lagging(entry.versionAfter),
      },
      'policy change not confirmed in force by every worker in time; its in-force record follows once they confirm or exit',
    );
    return null;
  }

  private swap(after: Policy, before: Policy, change: PolicyChange | undefined): void {
    this.policy = after;
    for (const listener of this.listeners) listener(after, before, change);
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** The policy files as one document; a node with no policy files starts with no orders. */
export async function loadPolicySource(files: readonly string[]): Promise<PolicyDocument> {
  return files.length === 0 ? { orders: [] } : loadPolicyFiles(files);
}

/** The highest policy version the audit log names, 0 for an empty log. */
function highestStoredVersion(audit: AuditLog): number {
  let highest = 0;
  // An in-force record's version is its entry's versionAfter (AuditLog.open checks it): entries say all.
  for (const entry of audit.recent(Number.MAX_SAFE_INTEGER)) {
    highest = Math.max(highest, entry.versionBefore, entry.versionAfter);
  }
  return highest;
}

async function build(
  source: PolicySource,
  audit: AuditLog,
  logger: Logger,
  version: number,
): Promise<Policy> {
  const document = await loadPolicySource(source.files);
  const files = compilePolicy(document, { version, unknownCountry: source.unknownCountry });
  // Accepted when they were stored: replayed whatever the clock says now (a clock stepped back, or a change
  // dated ahead before the policy refused that), so a restart enforces what was in force. In slices between
  // event-loop turns, in one private overlay (Policy.replayInBackground): a SIGHUP replaying thousands of
  // changes keeps serving with the running policy meanwhile, and N changes cost O(N), not O(N²).
  return files.replayInBackground(audit.changes(), {
    // The files moved on (e.g. an order was removed from them): the stored change no longer applies.
    // Skipping it loudly keeps the node up with everything else in force. A damaged change never gets
    // here: AuditLog.open checks each stored change's shape and refuses to start on a damaged one.
    onSkipped: ({ change, error }) =>
      logger.warn({ err: error, change }, 'stored policy change no longer applies; skipped'),
  });
}
