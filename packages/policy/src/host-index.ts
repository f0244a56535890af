import { HostTable, hashSuffix } from './host-table.js';
import { NO_REFS, type Ref, type Refs, withRef } from './refs.js';

/**
 * The host lookup structure: one hash table from a normalised name (an order's host, or the base name of
 * a wildcard / include-subdomains rule) to the rules naming it. `decide()` looks up the host and each of
 * its parent suffixes, so its cost depends on the number of labels, never on the number of hosts.
 *
 * `base` is built by compilation and never changes; `overlay` holds, for each name a change touched,
 * the complete new rule list (or {@link NO_REFS}). Changes copy the overlay, not the base, which is why
 * `apply()` costs O(overlay) instead of O(hosts); compaction folds the overlay back into a new base.
 */
export class HostIndex {
  /** Bit n set when some name has n labels: suffixes with other label counts need no lookup. */
  readonly labelCounts: number;

  constructor(
    readonly base: HostTable,
    readonly overlay: HostTable = new HostTable(),
  ) {
    this.labelCounts = base.labelCounts | overlay.labelCounts;
  }

  /** The rules naming exactly `host.slice(start, end)`, whose `hashSuffix` is `hash`. */
  lookup(host: string, start: number, end: number, hash: number): Refs | undefined {
    const overlay = this.overlay;
    if (overlay.size !== 0) {
      const refs = overlay.lookup(host, start, end, hash);
      if (refs !== undefined) return refs;
    }
    return this.base.lookup(host, start, end, hash);
  }

  /** The rules naming exactly `name`, or `undefined`. */
  get(name: string): Refs | undefined {
    return this.lookup(name, 0, name.length, hashSuffix(name));
  }
}

/**
 * Writes changes as an overlay over an index. The overlay is copied once, on the first write, so the
 * index (and every snapshot that uses it) stays untouched; with `reuseOverlay` a private overlay is
 * mutated in place (used when replaying changes whose intermediate snapshots nobody can see).
 */
export class OverlayWriter {
  private overlay: HostTable | undefined;

  constructor(
    private readonly index: HostIndex,
    reuseOverlay = false,
  ) {
    if (reuseOverlay) this.overlay = index.overlay;
  }

  /** The rules of `name` as written so far. */
  get(name: string): Refs | undefined {
    return (this.overlay ?? this.index.overlay).get(name) ?? this.index.base.get(name);
  }

  /** Whether `name` currently has `ref`. */
  has(name: string, ref: Ref): boolean {
    return this.get(name)?.includes(ref) === true;
  }

  /** Adds a rule; `false` when it was already there. */
  add(name: string, ref: Ref, single: Refs): boolean {
    const refs = withRef(this.get(name), ref, single);
    if (refs === undefined) return false;
    this.writable().set(name, refs);
    return true;
  }

  /** Removes a rule; `false` when it was not there. */
  remove(name: string, ref: Ref): boolean {
    const current = this.get(name);
    if (current === undefined || !current.includes(ref)) return false;
    const remaining = current.filter((candidate) => candidate !== ref);
    this.writable().set(name, remaining.length === 0 ? NO_REFS : remaining);
    return true;
  }

  /** The index with everything written. */
  finish(): HostIndex {
    return this.overlay === undefined ? this.index : new HostIndex(this.index.base, this.overlay);
  }

  private writable(): HostTable {
    this.overlay ??= this.index.overlay.clone();
    return this.overlay;
  }
}
