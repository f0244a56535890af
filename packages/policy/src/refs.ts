import type { MatchKind } from './host-pattern.js';

/**
 * One rule of one order, shared by every name the rule covers: `key` identifies the compiled order
 * (a replaced or deleted order's key is dead and skipped), `kind` says how the name matches.
 */
export type Ref = { readonly key: number; readonly kind: MatchKind };
/** The rules naming one name; usually one order's shared one-element list. */
export type Refs = readonly Ref[];

/** What an overlay stores for a name whose every rule was removed (a tombstone). */
export const NO_REFS: Refs = Object.freeze([]);

/**
 * Adds `ref` to the rules `current` (the rules of a name), or returns `undefined` when it is already
 * there. `single` is the shared one-element list for `ref`: most names have exactly one rule, and
 * sharing that list saves an array per host.
 */
export function withRef(current: Refs | undefined, ref: Ref, single: Refs): Refs | undefined {
  if (current === undefined || current.length === 0) return single;
  return current.includes(ref) ? undefined : [...current, ref];
}
