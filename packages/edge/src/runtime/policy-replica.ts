import { compilePolicy, type Policy, type PolicyChange, type PolicyDocument } from '@edge451/policy';
import type { PolicyListener, PolicyView } from './policy-state.js';

/** The full policy a primary sends a worker: at start, after a reload, or when the worker fell behind. */
export type PolicySnapshot = { document: PolicyDocument; version: number; unknownCountry: 'allow' | 'block' };

/**
 * A cluster worker's copy of the primary's policy. The primary validates and stores every change, then
 * sends it here; a change is applied incrementally when it follows this snapshot's version, otherwise
 * `apply` answers false and the worker asks for a full snapshot.
 */
export class PolicyReplica implements PolicyView {
  private readonly listeners: PolicyListener[] = [];

  private constructor(private policy: Policy) {}

  static fromSnapshot(snapshot: PolicySnapshot): PolicyReplica {
    return new PolicyReplica(compileSnapshot(snapshot));
  }

  current(): Policy {
    return this.policy;
  }

  onChange(listener: PolicyListener): void {
    this.listeners.push(listener);
  }

  /** Applies the primary's change made at `version`; false when this copy is not at `version - 1`. */
  apply(change: PolicyChange, version: number): boolean {
    if (this.policy.version + 1 !== version) return false;
    // The primary accepted it against its own clock; this worker applies it as it was applied there.
    this.swap(this.policy.apply(change, { replay: true }), change);
    return true;
  }

  replace(snapshot: PolicySnapshot): void {
    this.swap(compileSnapshot(snapshot), undefined);
  }

  private swap(after: Policy, change: PolicyChange | undefined): void {
    const before = this.policy;
    this.policy = after;
    for (const listener of this.listeners) listener(after, before, change);
  }
}

function compileSnapshot(snapshot: PolicySnapshot): Policy {
  return compilePolicy(snapshot.document, {
    version: snapshot.version,
    unknownCountry: snapshot.unknownCountry,
  });
}

/** The snapshot of a policy in force, for sending to a worker. */
export function snapshotOf(policy: Policy): PolicySnapshot {
  return { document: policy.toDocument(), version: policy.version, unknownCountry: policy.unknownCountry };
}
