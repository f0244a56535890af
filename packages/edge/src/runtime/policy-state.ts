import {
  compilePolicy,
  loadPolicyFiles,
  type Policy,
  type PolicyChange,
  type PolicyDocument,
} from '@edge451/policy';
import type { Logger } from 'pino';
import type { AuditEntry, AuditLog } from './audit-log.js';

export type PolicySource = { files: string[]; unknownCountry: 'allow' | 'block' };

/** Called after a new snapshot is in force, with the change that made it (none for a reload). */
export type PolicyListener = (policy: Policy, before: Policy, change: PolicyChange | undefined) => void;

/** What the request path needs of the policy: the snapshot in force, and word when it changes. */
export type PolicyView = { current(): Policy; onChange(listener: PolicyListener): void };

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
  ) {
    this.policy = initial;
  }

  /** Loads files + stored changes. Throws the policy's validation error when the files are invalid. */
  static async load(source: PolicySource, audit: AuditLog, logger: Logger): Promise<PolicyState> {
    const policy = await build(source, audit, logger, 1);
    return new PolicyState(source, audit, logger, policy);
  }

  current(): Policy {
    return this.policy;
  }

  onChange(listener: PolicyListener): void {
    this.listeners.push(listener);
  }

  /**
   * Validates, stores durably, then swaps in the new snapshot. Rejects with the policy's
   * PolicyValidationError (→ 400) before anything is stored; the previous policy stays in force.
   */
  apply(change: PolicyChange, actor: string): Promise<{ policy: Policy; entry: AuditEntry }> {
    return this.serialised(async () => {
      const before = this.policy;
      const after = before.apply(change);
      // The applied form carries the instant the policy gave the change (`at` filled in): replaying it at
      // start-up or on a worker yields the same dates, not the replay time.
      const applied = after.lastChange ?? change;
      const entry = await this.audit.append({
        at: new Date().toISOString(),
        actor,
        action: change.type,
        change: applied,
        versionBefore: before.version,
        versionAfter: after.version,
      });
      this.swap(after, before, applied);
      return { policy: after, entry };
    });
  }

  /** Re-reads the policy files (SIGHUP). An invalid file is refused: the running policy stays. */
  reload(source: PolicySource = this.source, actor = 'signal'): Promise<Policy> {
    return this.serialised(async () => {
      const before = this.policy;
      const after = await build(source, this.audit, this.logger, before.version + 1);
      this.source = source;
      await this.audit.append({
        at: new Date().toISOString(),
        actor,
        action: 'reload',
        versionBefore: before.version,
        versionAfter: after.version,
      });
      this.swap(after, before, undefined);
      return after;
    });
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

async function build(
  source: PolicySource,
  audit: AuditLog,
  logger: Logger,
  version: number,
): Promise<Policy> {
  const document = await loadPolicySource(source.files);
  let policy = compilePolicy(document, { version, unknownCountry: source.unknownCountry });
  for (const change of audit.changes()) {
    try {
      // Accepted when it was stored: replayed whatever the clock says now (a clock stepped back, or a change
      // dated ahead before the policy refused that), so a restart enforces what was in force.
      policy = policy.apply(change, { replay: true });
    } catch (error) {
      // The files moved on (e.g. an order was removed from them): the stored change no longer applies.
      // Skipping it loudly keeps the node up with everything else in force.
      logger.warn({ err: error, change }, 'stored policy change no longer applies; skipped');
    }
  }
  return policy;
}
