import { CountryGroups } from './country-groups.js';
import { documentSchema, keysOf, liftSchema, notificationSchema } from './document.js';
import { type PolicyIssue, PolicyValidationError } from './errors.js';
import { describeValue, type HostRule, parseHostPattern, patternOf, WILDCARD } from './host-pattern.js';
import type { PathSegment } from './issue-path.js';
import { type DocumentSource, IssueSink } from './issue-sink.js';
import { type ValidatedOrder, validateHosts, validateOrder } from './validate-order.js';

/** A notification that passed validation; its plain names took the order's `includeSubdomains`. */
export type ValidatedNotification = {
  readonly orderId: string;
  readonly rules: readonly HostRule[];
  readonly notifiedBy: string;
  readonly reference: string;
  readonly at: string;
  readonly atMs: number;
};

/** A lift that passed validation; `rule` is EXACT for a name (it lifts exact and subtree rules) or WILDCARD. */
export type ValidatedLift = {
  readonly orderId: string;
  readonly rule: HostRule;
  readonly liftedBy: string;
  readonly reference: string | undefined;
  readonly at: string;
  readonly atMs: number;
};

/** Every part of a policy after validation, ready to compile. */
export type ValidatedPolicy = {
  readonly unknownCountry: 'allow' | 'block' | undefined;
  readonly groups: CountryGroups;
  readonly orders: readonly ValidatedOrder[];
  readonly notifications: readonly ValidatedNotification[];
  readonly lifts: readonly ValidatedLift[];
};

const TOP_KEYS = keysOf(documentSchema);
const NOTIFICATION_KEYS = keysOf(notificationSchema);
const LIFT_KEYS = keysOf(liftSchema);

type Located = { sink: IssueSink; path: PathSegment[] };

/**
 * Validates one or more documents as ONE policy (orders concatenated, ids unique across all of them) and
 * throws a {@link PolicyValidationError} listing every problem of every source, each with its file, line
 * and path. Nothing is returned, so nothing can be applied, unless every source is valid.
 */
export function validateSources(sources: readonly DocumentSource[]): ValidatedPolicy {
  const issues: PolicyIssue[] = [];
  const sinks = sources.map((source) => new IssueSink(source, issues));
  const groups = new CountryGroups();
  let unknownCountry: { value: 'allow' | 'block'; at: Located } | undefined;
  for (const sink of sinks) {
    const fields = topLevelOf(sink);
    groups.addFrom(fields.countryGroups, sink);
    const value = fields.unknownCountry;
    if (value !== 'allow' && value !== 'block') continue;
    if (unknownCountry !== undefined && unknownCountry.value !== value) {
      const other = unknownCountry.at.sink.where(unknownCountry.at.path);
      sink.add(['unknownCountry'], `"${value}" conflicts with "${unknownCountry.value}" at ${other}`);
    }
    unknownCountry ??= { value, at: { sink, path: ['unknownCountry'] } };
  }
  const orders = new Map<string, { at: Located; order: ValidatedOrder | undefined }>();
  for (const sink of sinks) {
    listOf(sink, 'orders').forEach((raw, index) => {
      const path = ['orders', index];
      const order = validateOrder(raw, sink, path, groups.resolve);
      const id = (raw as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') return;
      const first = orders.get(id);
      if (first === undefined) orders.set(id, { at: { sink, path }, order });
      else
        sink.add([...path, 'id'], `duplicate order id: also used by ${first.at.sink.where(first.at.path)}`);
    });
  }
  const notifications = sinks.flatMap((sink) => validateNotifications(sink, orders));
  const lifts = sinks.flatMap((sink) => validateLifts(sink, orders));
  checkLiftedHostsExist(lifts, orders, notifications);
  if (issues.length > 0) throw new PolicyValidationError(issues);
  const validOrders = [...orders.values()].map((entry) => entry.order as ValidatedOrder);
  return {
    unknownCountry: unknownCountry?.value,
    groups,
    orders: validOrders,
    notifications,
    lifts: lifts.map((entry) => entry.lift),
  };
}

function topLevelOf(sink: IssueSink): Record<string, unknown> {
  const value = sink.source.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    sink.add([], `expected a policy document (a mapping with "orders"), found ${describeValue(value)}`);
    return {};
  }
  const parsed = documentSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) sink.addZod(parsed.error.issues, [], TOP_KEYS);
  return value as Record<string, unknown>;
}

function listOf(sink: IssueSink, key: string): unknown[] {
  const value = (sink.source.value as Record<string, unknown> | null)?.[key];
  return Array.isArray(value) ? value : [];
}

type OrdersById = ReadonlyMap<string, { order: ValidatedOrder | undefined }>;

/** `true` when the order exists; reports an unknown id. An order that exists but is invalid returns false. */
function checkOrderId(orderId: unknown, orders: OrdersById, sink: IssueSink, path: PathSegment[]): boolean {
  if (typeof orderId !== 'string') return false; // the schema reported it
  const entry = orders.get(orderId);
  if (entry === undefined)
    sink.add(path, `expected the id of an order, found ${JSON.stringify(orderId)} (no such order)`);
  return entry?.order !== undefined;
}

function validateNotifications(sink: IssueSink, orders: OrdersById): ValidatedNotification[] {
  const valid: ValidatedNotification[] = [];
  listOf(sink, 'notifications').forEach((raw, index) => {
    const path = ['notifications', index];
    const before = sink.issues.length;
    const parsed = notificationSchema.safeParse(raw, { reportInput: true });
    if (!parsed.success) sink.addZod(parsed.error.issues, path, NOTIFICATION_KEYS);
    const fields = (raw ?? {}) as Record<string, unknown>;
    if (!checkOrderId(fields.orderId, orders, sink, [...path, 'orderId'])) return;
    const order = orders.get(fields.orderId as string)?.order as ValidatedOrder;
    const rules = validateHosts(fields.hosts, order.includeSubdomains, sink, [...path, 'hosts']);
    if (!parsed.success || sink.issues.length > before) return;
    const { orderId, notifiedBy, reference, at } = parsed.data;
    valid.push({ orderId, rules, notifiedBy, reference, at, atMs: Date.parse(at) });
  });
  return valid;
}

type LocatedLift = { lift: ValidatedLift; at: Located };

function validateLifts(sink: IssueSink, orders: OrdersById): LocatedLift[] {
  const valid: LocatedLift[] = [];
  listOf(sink, 'lifts').forEach((raw, index) => {
    const path = ['lifts', index];
    const before = sink.issues.length;
    const parsed = liftSchema.safeParse(raw, { reportInput: true });
    if (!parsed.success) sink.addZod(parsed.error.issues, path, LIFT_KEYS);
    const fields = (raw ?? {}) as Record<string, unknown>;
    const rule = typeof fields.host === 'string' ? parseHostPattern(fields.host, false) : undefined;
    if (rule !== undefined && 'message' in rule) sink.add([...path, 'host'], rule.message);
    if (!checkOrderId(fields.orderId, orders, sink, [...path, 'orderId'])) return;
    if (!parsed.success || sink.issues.length > before || rule === undefined || 'message' in rule) return;
    const { orderId, liftedBy, reference, at } = parsed.data;
    const lift = { orderId, rule, liftedBy, reference, at, atMs: Date.parse(at) };
    valid.push({ lift, at: { sink, path: [...path, 'host'] } });
  });
  return valid;
}

/** A lift must name a host its order lists or was notified; one scan of the rules, however many lifts. */
function checkLiftedHostsExist(
  lifts: readonly LocatedLift[],
  orders: OrdersById,
  notifications: readonly ValidatedNotification[],
): void {
  const wanted = new Map<string, Set<string>>();
  for (const { lift } of lifts) {
    const patterns = wanted.get(lift.orderId) ?? new Set<string>();
    patterns.add(patternOf(lift.rule));
    wanted.set(lift.orderId, patterns);
  }
  const found = new Set<string>();
  const visit = (orderId: string, rules: readonly HostRule[]) => {
    const patterns = wanted.get(orderId);
    if (patterns === undefined) return;
    for (const rule of rules) {
      const pattern = rule.kind === WILDCARD ? patternOf(rule) : rule.name;
      if (patterns.has(pattern)) found.add(`${orderId} ${pattern}`);
    }
  };
  for (const [id, entry] of orders) if (entry.order !== undefined) visit(id, entry.order.rules);
  for (const notification of notifications) visit(notification.orderId, notification.rules);
  for (const { lift, at } of lifts) {
    const pattern = patternOf(lift.rule);
    if (found.has(`${lift.orderId} ${pattern}`)) continue;
    at.sink.add(at.path, `order "${lift.orderId}" neither lists nor was notified the host "${pattern}"`);
  }
}
