import { HostIndex, OverlayWriter } from './host-index.js';
import { EXACT, type HostRule, type MatchKind, patternOf, SUBTREE, WILDCARD } from './host-pattern.js';
import { EffectiveOrder, type LiftState, OrderCore } from './order.js';
import type { AdditionCell, PolicyState, ValidChange } from './policy-state.js';
import type { ValidatedLift, ValidatedNotification } from './validate-document.js';
import type { ValidatedOrder } from './validate-order.js';
import { windowBoundaries } from './window-boundaries.js';

/** The parts of a snapshot a change replaces; the rest is shared with the previous snapshot. */
type Replaced = Pick<PolicyState, 'orders' | 'slots' | 'hostCount'> &
  Partial<Pick<PolicyState, 'notifications' | 'lifts' | 'nextKey' | 'deadRuleCount' | 'boundaries'>> & {
    addition: { orderId: string | undefined; rules: readonly HostRule[] | undefined };
  };

/** How a change writes: the overlay it writes names to, and whether the state's arrays may grow in place. */
type Writes = { readonly writer: OverlayWriter; readonly inPlace: boolean };

/**
 * Applies a validated change and returns the next snapshot (version + 1). Touches only the names the
 * change concerns, through an overlay on the index: a notification or lift costs O(its hosts + the
 * overlay), whatever the number of hosts compiled (DECISIONS #14). A put-order costs O(its hosts); a
 * delete-order is O(orders): the deleted order's rules stay in the base as garbage until compaction.
 * Never throws for a change `validateChange` accepted against `state`.
 *
 * `inPlace` is for a state made by {@link privateCopy} (or by an `inPlace` change to one) that nobody else
 * can see, when replaying many changes: the overlay, orders, slots, notifications and lifts are then
 * written in place instead of copied, so a change costs O(its hosts) however many came before it
 * (copying them made N changes cost O(N²)). The state passed in must not be used afterwards.
 */
export function executeChange(state: PolicyState, change: ValidChange, inPlace = false): PolicyState {
  const writer = new OverlayWriter(state.index, inPlace);
  const replaced = run(state, change, { writer, inPlace });
  const { addition, ...parts } = replaced;
  return {
    ...state,
    ...parts,
    index: writer.finish(),
    version: state.version + 1,
    history: { change, previous: state.history },
    additions: appendAddition(state.additions, addition.orderId, addition.rules),
  };
}

/**
 * A copy of `state` that `executeChange(…, true)` may write in place: its own overlay, orders, slots,
 * notifications and lifts; O(overlay + orders + notifications + lifts), once for any number of changes.
 * The rest (base, order cores, lifted maps) is never written in place and stays shared.
 */
export function privateCopy(state: PolicyState): PolicyState {
  return {
    ...state,
    index: new HostIndex(state.index.base, state.index.overlay.clone()),
    orders: [...state.orders],
    slots: [...state.slots],
    notifications: [...state.notifications],
    lifts: [...state.lifts],
  };
}

function run(state: PolicyState, change: ValidChange, writes: Writes): Replaced {
  switch (change.type) {
    case 'put-order':
      return putOrder(state, change.order, writes);
    case 'delete-order':
      return deleteOrder(state, change.orderId);
    case 'notify':
      return notify(state, change.notification, writes);
    case 'lift-host':
      return liftHost(state, change.lift, writes);
  }
}

/** `array` and `item` after it: `array` itself, grown, when writing in place. */
function appended<T>(array: readonly T[], item: T, inPlace: boolean): readonly T[] {
  if (!inPlace) return [...array, item];
  (array as T[]).push(item);
  return array;
}

function kindsOf(rule: HostRule): MatchKind[] {
  return rule.kind === WILDCARD ? [WILDCARD] : [EXACT, SUBTREE];
}

function replaceOrder(
  state: PolicyState,
  previous: EffectiveOrder | undefined,
  next: EffectiveOrder,
  inPlace: boolean,
) {
  const slots = (inPlace ? state.slots : [...state.slots]) as (EffectiveOrder | undefined)[];
  if (previous !== undefined) slots[previous.core.key] = undefined;
  slots[next.core.key] = next;
  if (previous === undefined) return { orders: appended(state.orders, next, inPlace), slots };
  if (!inPlace) return { orders: state.orders.map((o) => (o === previous ? next : o)), slots };
  const orders = state.orders as EffectiveOrder[];
  orders[orders.indexOf(previous)] = next;
  return { orders, slots };
}

function putOrder(state: PolicyState, order: ValidatedOrder, { writer, inPlace }: Writes): Replaced {
  const existing = state.orders.find((candidate) => candidate.id === order.id);
  const core = new OrderCore(state.nextKey, order);
  const notified = state.notifications.filter((notification) => notification.orderId === order.id);
  let count = 0;
  for (const rules of [order.rules, ...notified.map((notification) => notification.rules)]) {
    for (const rule of rules)
      if (writer.add(rule.name, core.refs[rule.kind], core.singles[rule.kind])) count++;
  }
  // Lifts survive the replacement for the hosts the new order still has; the others mean nothing now.
  const lifted = new Map<string, LiftState>();
  for (const [pattern, { lift }] of existing?.lifted ?? []) {
    const removed = kindsOf(lift.rule).filter((kind) => writer.remove(lift.rule.name, core.refs[kind]));
    if (removed.length === 0) continue;
    lifted.set(pattern, { lift, removed });
    count -= removed.length;
  }
  const stillNamed = (lift: ValidatedLift) =>
    lifted.has(patternOf(lift.rule)) ||
    kindsOf(lift.rule).some((kind) => writer.has(lift.rule.name, core.refs[kind]));
  const lifts = state.lifts.filter((lift) => lift.orderId !== order.id || stillNamed(lift));
  const next = new EffectiveOrder(core, state.notifications, lifted, count);
  const { orders, slots } = replaceOrder(state, existing, next, inPlace);
  return {
    orders,
    slots,
    lifts,
    nextKey: state.nextKey + 1,
    hostCount: state.hostCount - (existing?.hostCount ?? 0) + count,
    deadRuleCount: state.deadRuleCount + (existing?.hostCount ?? 0),
    boundaries: windowBoundaries(orders),
    addition: { orderId: order.id, rules: undefined },
  };
}

function deleteOrder(state: PolicyState, orderId: string): Replaced {
  const existing = state.orders.find((candidate) => candidate.id === orderId) as EffectiveOrder;
  const slots = [...state.slots];
  slots[existing.core.key] = undefined;
  const orders = state.orders.filter((order) => order !== existing);
  return {
    orders,
    slots,
    notifications: state.notifications.filter((notification) => notification.orderId !== orderId),
    lifts: state.lifts.filter((lift) => lift.orderId !== orderId),
    hostCount: state.hostCount - existing.hostCount,
    deadRuleCount: state.deadRuleCount + existing.hostCount,
    boundaries: windowBoundaries(orders),
    addition: { orderId: undefined, rules: [] },
  };
}

function notify(
  state: PolicyState,
  notification: ValidatedNotification,
  { writer, inPlace }: Writes,
): Replaced {
  const order = state.orders.find((candidate) => candidate.id === notification.orderId) as EffectiveOrder;
  const { core } = order;
  const lifted = new Map(order.lifted);
  const added: HostRule[] = [];
  const add = (name: string, kind: MatchKind) => {
    if (writer.add(name, core.refs[kind], core.singles[kind])) added.push({ name, kind });
  };
  for (const rule of notification.rules) {
    // DECISIONS #6: a notification for a lifted host blocks it again, as it was before the lift.
    const liftState = lifted.get(patternOf(rule));
    if (liftState !== undefined) {
      lifted.delete(patternOf(rule));
      for (const kind of liftState.removed) add(rule.name, kind);
    }
    add(rule.name, rule.kind);
  }
  const notifications = appended(state.notifications, notification, inPlace);
  const next = new EffectiveOrder(core, notifications, lifted, order.hostCount + added.length);
  return {
    ...replaceOrder(state, order, next, inPlace),
    notifications,
    hostCount: state.hostCount + added.length,
    addition: { orderId: order.id, rules: added },
  };
}

function liftHost(state: PolicyState, lift: ValidatedLift, { writer, inPlace }: Writes): Replaced {
  const order = state.orders.find((candidate) => candidate.id === lift.orderId) as EffectiveOrder;
  const { core } = order;
  const removed = kindsOf(lift.rule).filter((kind) => writer.remove(lift.rule.name, core.refs[kind]));
  const lifted = new Map(order.lifted).set(patternOf(lift.rule), { lift, removed });
  const next = new EffectiveOrder(core, state.notifications, lifted, order.hostCount - removed.length);
  return {
    ...replaceOrder(state, order, next, inPlace),
    lifts: appended(state.lifts, lift, inPlace),
    hostCount: state.hostCount - removed.length,
    addition: { orderId: order.id, rules: [] },
  };
}

let nextAdditionId = 1;
const MAX_ADDITION_DEPTH = 64;
const KEPT_ON_TRUNCATION = 32;

function appendAddition(
  previous: AdditionCell | undefined,
  orderId: string | undefined,
  rules: readonly HostRule[] | undefined,
): AdditionCell {
  const kept = previous !== undefined && previous.depth >= MAX_ADDITION_DEPTH ? truncate(previous) : previous;
  return {
    id: nextAdditionId++,
    orderId,
    rules,
    previous: kept,
    depth: (kept?.depth ?? 0) + 1,
    truncated: false,
  };
}

/** Keeps the newest cells (same ids) so the log stays bounded; a diff reaching past them rescans. */
function truncate(head: AdditionCell): AdditionCell {
  const cells: AdditionCell[] = [];
  for (
    let cell: AdditionCell | undefined = head;
    cell !== undefined && cells.length < KEPT_ON_TRUNCATION;
    cell = cell.previous
  ) {
    cells.push(cell);
  }
  let rebuilt: AdditionCell | undefined;
  for (let index = cells.length - 1; index >= 0; index--) {
    const cell = cells[index] as AdditionCell;
    rebuilt = {
      ...cell,
      previous: rebuilt,
      depth: (rebuilt?.depth ?? 0) + 1,
      truncated: rebuilt === undefined,
    };
  }
  return rebuilt as AdditionCell;
}
