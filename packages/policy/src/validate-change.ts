import { z } from 'zod';
import { type ChangeClock, dateChange } from './change-dating.js';
import { instant, keysOf, liftSchema, notificationSchema, orderId } from './document.js';
import { type PolicyIssue, PolicyValidationError } from './errors.js';
import {
  describeValue,
  EXACT,
  type HostEntry,
  type HostRule,
  parseHostPattern,
  patternOf,
  SUBTREE,
  WILDCARD,
} from './host-pattern.js';
import { IssueSink } from './issue-sink.js';
import type { EffectiveOrder } from './order.js';
import type { PolicyState, ValidChange } from './policy-state.js';
import type { Ref } from './refs.js';
import { type GroupResolver, validateHosts, validateOrder } from './validate-order.js';

/**
 * A change to a compiled policy, as the admin API and the state directory carry it. Every field is
 * validated by `Policy.apply()`; `at` defaults to the moment of the call and may not be later than the
 * node's clock plus `CLOCK_SKEW_ALLOWANCE_MS` (change-dating.ts).
 */
export type PolicyChange =
  | { type: 'put-order'; order: unknown }
  | { type: 'delete-order'; orderId: string }
  | {
      type: 'notify';
      orderId: string;
      /** Names, `*.` wildcards, or `{ host, includeSubdomains }`; plain names take the order's default. */
      hosts: readonly HostEntry[];
      notifiedBy: string;
      reference: string;
      at?: string;
    }
  | { type: 'lift-host'; orderId: string; host: string; liftedBy: string; reference?: string; at?: string };

const SCHEMAS = {
  'put-order': z.strictObject({ type: z.literal('put-order'), order: z.unknown() }),
  'delete-order': z.strictObject({ type: z.literal('delete-order'), orderId }),
  notify: notificationSchema.extend({ type: z.literal('notify'), at: instant.optional() }),
  'lift-host': liftSchema.extend({ type: z.literal('lift-host'), at: instant.optional() }),
} as const;
type ChangeType = keyof typeof SCHEMAS;

/**
 * Validates a raw change against the snapshot it would apply to and returns it in replayable form, or
 * throws a `PolicyValidationError` listing every problem (the snapshot is untouched either way).
 */
export function validateChange(state: PolicyState, change: unknown, clock: ChangeClock): ValidChange {
  const sink = new IssueSink({ value: change });
  const valid = check(state, change, sink, clock);
  if (valid === undefined || sink.issues.length > 0) throw new PolicyValidationError(sink.issues);
  return valid;
}

/**
 * The issues of a change whatever policy it would apply to: its type, its fields and dates, the syntax of
 * its hosts and, for a put-order, the order as a document (any country group name is taken as defined:
 * which groups exist is the policy files' business). `validateChange` checks all of this and then the
 * snapshot (the order named, lifts, dates against notifications). The state directory checks a stored
 * change with this alone, to tell a damaged change from one the policy files no longer have room for.
 */
export function changeShapeIssues(change: unknown): readonly PolicyIssue[] {
  const sink = new IssueSink({ value: change });
  const type = checkType(change, sink);
  if (type === undefined) return sink.issues;
  const fields = change as Record<string, unknown>;
  switch (type) {
    case 'put-order':
      validateOrder(fields.order, sink, ['order'], ANY_GROUP);
      break;
    case 'notify':
      // Which plain names cover subdomains depends on the order; whether a host parses does not.
      validateHosts(fields.hosts, false, sink, ['hosts']);
      break;
    case 'lift-host':
      liftRule(fields, sink);
      break;
    case 'delete-order':
      break;
  }
  return sink.issues;
}

const ANY_GROUP: GroupResolver = () => [];

/** Reports a change that is not an object of a known type, or whose fields do not fit its type. */
function checkType(change: unknown, sink: IssueSink): ChangeType | undefined {
  const type = (change as { type?: unknown } | null)?.type;
  if (typeof change !== 'object' || change === null || !Object.hasOwn(SCHEMAS, String(type))) {
    const expected = Object.keys(SCHEMAS)
      .map((name) => JSON.stringify(name))
      .join(', ');
    sink.add(['type'], `expected one of ${expected}, found ${describeValue(type)}`);
    return undefined;
  }
  const schema = SCHEMAS[type as ChangeType];
  const parsed = schema.safeParse(change, { reportInput: true });
  if (!parsed.success) sink.addZod(parsed.error.issues, [], keysOf(schema));
  return type as ChangeType;
}

/** The rule a lift names, reporting a host that is no pattern; undefined when `host` is no string. */
function liftRule(fields: Record<string, unknown>, sink: IssueSink): HostRule | undefined {
  const parsed = typeof fields.host === 'string' ? parseHostPattern(fields.host, false) : undefined;
  if (parsed === undefined) return undefined; // the schema reported it
  if ('message' in parsed) {
    sink.add(['host'], parsed.message);
    return undefined;
  }
  return parsed;
}

function check(
  state: PolicyState,
  change: unknown,
  sink: IssueSink,
  clock: ChangeClock,
): ValidChange | undefined {
  const type = checkType(change, sink);
  if (type === undefined) return undefined;
  const fields = change as Record<string, unknown>;
  // Omitted, `at` is now; notify and lift-host move it just past a record it must follow (below).
  const at = typeof fields.at === 'string' ? fields.at : undefined;
  switch (type) {
    case 'put-order': {
      const order = validateOrder(fields.order, sink, ['order'], state.groups.resolve);
      return order === undefined ? undefined : { type: 'put-order', order };
    }
    case 'delete-order':
      return findOrder(state, fields.orderId, sink) === undefined
        ? undefined
        : { type: 'delete-order', orderId: fields.orderId as string };
    case 'notify':
      return checkNotify(state, fields, at, clock, sink);
    case 'lift-host':
      return checkLift(state, fields, at, clock, sink);
  }
}

function findOrder(state: PolicyState, id: unknown, sink: IssueSink): EffectiveOrder | undefined {
  if (typeof id !== 'string') return undefined; // the schema reported it
  const order = state.orders.find((candidate) => candidate.id === id);
  if (order === undefined)
    sink.add(['orderId'], `expected the id of an order, found ${JSON.stringify(id)} (no such order)`);
  return order;
}

function checkNotify(
  state: PolicyState,
  fields: Record<string, unknown>,
  givenAt: string | undefined,
  clock: ChangeClock,
  sink: IssueSink,
): ValidChange | undefined {
  const order = findOrder(state, fields.orderId, sink);
  if (order === undefined) return undefined;
  const before = sink.issues.length;
  const rules = validateHosts(fields.hosts, order.includeSubdomains, sink, ['hosts']);
  if (sink.issues.length > before) return undefined;
  // A notification re-blocks a lifted host only if dated after the lift (DECISIONS #6, compile.ts).
  const liftedAt = Math.max(
    -Infinity,
    ...rules.map((rule) => order.lifted.get(patternOf(rule))?.lift.atMs ?? -Infinity),
  );
  const { at, atMs } = dateChange(givenAt, liftedAt + 1, clock, sink);
  rules.forEach((rule, index) => {
    const lifted = order.lifted.get(patternOf(rule));
    if (lifted === undefined || atMs > lifted.lift.atMs) return;
    sink.add(
      ['hosts', index],
      `"${patternOf(rule)}" was lifted at ${lifted.lift.at}; only a notification dated after the lift blocks it again, found ${at}`,
    );
  });
  const { notifiedBy, reference } = fields as { notifiedBy: string; reference: string };
  return { type: 'notify', notification: { orderId: order.id, rules, notifiedBy, reference, at, atMs } };
}

function checkLift(
  state: PolicyState,
  fields: Record<string, unknown>,
  givenAt: string | undefined,
  clock: ChangeClock,
  sink: IssueSink,
): ValidChange | undefined {
  const rule = liftRule(fields, sink);
  const order = findOrder(state, fields.orderId, sink);
  if (order === undefined || rule === undefined) return undefined;
  const pattern = patternOf(rule);
  const lifted = order.lifted.get(pattern);
  if (lifted !== undefined) {
    sink.add(['host'], `"${pattern}" of order "${order.id}" is already lifted (at ${lifted.lift.at})`);
    return undefined;
  }
  const kinds = rule.kind === WILDCARD ? [WILDCARD] : [EXACT, SUBTREE];
  const refs = state.index.get(rule.name) ?? [];
  if (!kinds.some((kind) => refs.includes(order.core.refs[kind] as Ref))) {
    sink.add(
      ['host'],
      `order "${order.id}" does not block "${pattern}": a lift removes one of the order's hosts, it cannot carve an exception out of a wildcard or includeSubdomains host`,
    );
    return undefined;
  }
  // A lift dated at or after the latest notification of the host is in force (a tie keeps the lift).
  const notifiedAt = latestNotification(state, order.id, pattern);
  const { at, atMs } = dateChange(givenAt, notifiedAt?.atMs ?? -Infinity, clock, sink);
  if (notifiedAt !== undefined && atMs < notifiedAt.atMs) {
    sink.add(
      ['at'],
      `expected a date-time not before the notification of "${pattern}" (${notifiedAt.at}), found ${JSON.stringify(at)}`,
    );
  }
  const { liftedBy, reference } = fields as { liftedBy: string; reference?: string };
  return { type: 'lift-host', lift: { orderId: order.id, rule, liftedBy, reference, at, atMs } };
}

/** The latest notification naming `pattern` for the order: one scan, only when lifting. */
function latestNotification(
  state: PolicyState,
  id: string,
  pattern: string,
): { at: string; atMs: number } | undefined {
  let latest: { at: string; atMs: number } | undefined;
  for (const notification of state.notifications) {
    if (notification.orderId !== id || (latest !== undefined && notification.atMs <= latest.atMs)) continue;
    if (notification.rules.some((rule) => patternOf(rule) === pattern)) latest = notification;
  }
  return latest;
}
