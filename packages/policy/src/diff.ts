import { type HostRule, patternOf, SUBTREE } from './host-pattern.js';
import type { EffectiveOrder } from './order.js';
import { type Policy, stateOf } from './policy.js';
import type { AdditionCell, PolicyState } from './policy-state.js';

/**
 * The host patterns that block in `after` but did not in `before`, for orders with `purgeCache` (the
 * cache purges them when an order starts blocking a host). An include-subdomains host gives both
 * `example.com` and `*.example.com`. Structural: windows and countries are not considered.
 *
 * When `after` descends from `before` through `apply()` (the usual case), only the hosts the changes in
 * between added are examined: O(changed hosts). Otherwise (unrelated policies, or a long history) it
 * compares every host of `after`: O(hosts). Throws a `TypeError` for objects `compilePolicy` did not make.
 */
export function diffBlockedHosts(before: Policy, after: Policy): string[] {
  const old = stateOf(before);
  const current = stateOf(after);
  const patterns = new Set<string>();
  const consider = (order: EffectiveOrder, rule: HostRule) => {
    if (!order.purgeCache || !blocks(current, order, rule)) return;
    const previous = old.orders.find((candidate) => candidate.id === order.id);
    if (previous !== undefined && blocks(old, previous, rule)) return;
    patterns.add(patternOf(rule));
    if (rule.kind === SUBTREE) patterns.add(`*.${rule.name}`);
  };
  const cells = old.lineage === current.lineage ? cellsSince(old.additions, current.additions) : undefined;
  const byId = new Map(current.orders.map((order) => [order.id, order]));
  if (cells === undefined) {
    for (const order of current.orders) forEachRule(order, (rule) => consider(order, rule));
  } else {
    for (const cell of cells) {
      const order = cell.orderId === undefined ? undefined : byId.get(cell.orderId);
      if (order === undefined) continue;
      if (cell.rules === undefined) forEachRule(order, (rule) => consider(order, rule));
      else for (const rule of cell.rules) consider(order, rule);
    }
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
