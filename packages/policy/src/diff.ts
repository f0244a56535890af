import { type HostRule, patternOf, SUBTREE } from './host-pattern.js';
import type { EffectiveOrder } from './order.js';
import { type Policy, stateOf } from './policy.js';
import type { AdditionCell, PolicyState } from './policy-state.js';
import { inWindow } from './window-boundaries.js';

/** When {@link diffBlockedHosts} looks at each snapshot, in epoch ms; each defaults to now. */
export type DiffInstants = { readonly beforeAt?: number; readonly afterAt?: number };

/**
 * The host patterns that block in `after` at `afterAt` but did not in `before` at `beforeAt`, for orders
 * with `purgeCache` (the cache purges them when a block starts). A pattern blocks when an order within its
 * window names it, whatever the client's country. Two snapshots at one instant: what a change started
 * blocking (an order put with a later `from` starts at its `from`, not at the change). One snapshot at two
 * instants: what started blocking in between because windows opened. An include-subdomains host gives
 * both `example.com` and `*.example.com`.
 *
 * When `after` descends from `before` through `apply()` (the usual case), only the hosts the changes in
 * between added and the hosts of orders whose window opened are examined: O(changed hosts). Otherwise
 * (unrelated policies, or a long history) it compares every host of `after`: O(hosts). Throws a
 * `TypeError` for objects `compilePolicy` did not make.
 */
export function diffBlockedHosts(before: Policy, after: Policy, instants: DiffInstants = {}): string[] {
  const now = Date.now();
  const beforeAt = instants.beforeAt ?? now;
  const afterAt = instants.afterAt ?? now;
  const old = stateOf(before);
  const current = stateOf(after);
  const previousById = new Map(old.orders.map((order) => [order.id, order]));
  /** The order of the same id in `before`, if it was in force at `beforeAt`. */
  const inForceBefore = (order: EffectiveOrder) => {
    const previous = previousById.get(order.id);
    return previous !== undefined && inWindow(previous, beforeAt) ? previous : undefined;
  };
  const patterns = new Set<string>();
  const consider = (order: EffectiveOrder, rule: HostRule) => {
    if (!blocks(current, order, rule)) return;
    const previous = inForceBefore(order);
    if (previous !== undefined && blocks(old, previous, rule)) return;
    patterns.add(patternOf(rule));
    if (rule.kind === SUBTREE) patterns.add(`*.${rule.name}`);
  };
  const purging = current.orders.filter((order) => order.purgeCache && inWindow(order, afterAt));
  const cells = old.lineage === current.lineage ? cellsSince(old.additions, current.additions) : undefined;
  if (cells === undefined) {
    for (const order of purging) forEachRule(order, (rule) => consider(order, rule));
    return [...patterns].sort();
  }
  // Orders new in force (a window opened, or not in force before at all): every host; others: what was added.
  const whole = new Set(purging.filter((order) => inForceBefore(order) === undefined));
  for (const order of whole) forEachRule(order, (rule) => consider(order, rule));
  const byId = new Map(purging.map((order) => [order.id, order]));
  for (const cell of cells) {
    const order = cell.orderId === undefined ? undefined : byId.get(cell.orderId);
    if (order === undefined || whole.has(order)) continue;
    if (cell.rules === undefined) forEachRule(order, (rule) => consider(order, rule));
    else for (const rule of cell.rules) consider(order, rule);
  }
  return [...patterns].sort();
}

function blocks(state: PolicyState, order: EffectiveOrder, rule: HostRule): boolean {
  return state.index.get(rule.name)?.includes(order.core.refs[rule.kind]) === true;
}

function forEachRule(order: EffectiveOrder, visit: (rule: HostRule) => void): void {
  for (const rule of order.core.order.rules) visit(rule);
  for (const notification of order.notifications) for (const rule of notification.rules) visit(rule);
}

/** The cells `head` has beyond `ancestor`, or `undefined` when `ancestor` is not found in the kept log. */
function cellsSince(
  ancestor: AdditionCell | undefined,
  head: AdditionCell | undefined,
): AdditionCell[] | undefined {
  const cells: AdditionCell[] = [];
  for (let cell = head; cell !== undefined; cell = cell.previous) {
    if (cell.id === ancestor?.id) return cells;
    cells.push(cell);
    if (cell.truncated) return undefined;
  }
  return ancestor === undefined ? cells : undefined;
}
