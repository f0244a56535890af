import { COUNTRY_GROUP_NAME, describeBadCountryCode, isCountryCode } from './countries.js';
import { instant, keysOf, orderSchema } from './document.js';
import { describeValue, type HostRule, parseHostEntry, quote } from './host-pattern.js';
import type { PathSegment } from './issue-path.js';
import type { IssueSink } from './issue-sink.js';
import type { Order } from './order.js';

/**
 * An order that passed validation: the public {@link Order}'s facts (one declaration of them, in
 * order.ts), with its hosts parsed into rules and its window in epoch ms.
 */
export type ValidatedOrder = Omit<Order, 'hosts' | 'hostCount'> & {
  readonly rules: readonly HostRule[];
  /** `from` in epoch ms, or -Infinity: inclusive. */
  readonly fromMs: number;
  /** `until` in epoch ms, or +Infinity: exclusive. */
  readonly untilMs: number;
};

/** Looks a country group up by its upper-case name. */
export type GroupResolver = (name: string) => readonly string[] | undefined;

const ORDER_KEYS = keysOf(orderSchema);

/**
 * Validates one order (of a document, or of a put-order change), reporting every problem to `sink` at
 * `path`. Returns the order, or `undefined` when it had any problem.
 */
export function validateOrder(
  raw: unknown,
  sink: IssueSink,
  path: readonly PathSegment[],
  groups: GroupResolver,
): ValidatedOrder | undefined {
  const before = sink.issues.length;
  const parsed = orderSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) sink.addZod(parsed.error.issues, path, ORDER_KEYS);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined; // the schema reported it
  const fields = raw as Record<string, unknown>;
  const includeSubdomains = fields.includeSubdomains === true;
  const rules = validateHosts(fields.hosts, includeSubdomains, sink, [...path, 'hosts']);
  const countries = validateCountries(fields.countries, groups, sink, [...path, 'countries']);
  const window = validateWindow(fields.from, fields.until, sink, path);
  if (!parsed.success || window === undefined || sink.issues.length > before) return undefined;
  const order = parsed.data;
  const { fromMs, untilMs } = window;
  return {
    id: order.id,
    authority: order.authority,
    reference: order.reference,
    url: order.url,
    countries: countries.written,
    countryCodes: countries.codes,
    rules,
    includeSubdomains,
    purgeCache: order.purgeCache ?? true,
    from: order.from,
    until: order.until,
    fromMs,
    untilMs,
  };
}

/** `from` (inclusive) and `until` (exclusive) in epoch ms; `until` must come after `from` (DECISIONS #3). */
function validateWindow(
  from: unknown,
  until: unknown,
  sink: IssueSink,
  path: readonly PathSegment[],
): { fromMs: number; untilMs: number } | undefined {
  const fromMs = typeof from === 'string' && instant.safeParse(from).success ? Date.parse(from) : undefined;
  const untilMs =
    typeof until === 'string' && instant.safeParse(until).success ? Date.parse(until) : undefined;
  if (fromMs !== undefined && untilMs !== undefined && untilMs <= fromMs) {
    sink.add(
      [...path, 'until'],
      `expected a date-time after from (${String(from)}), found ${quote(String(until))}`,
    );
    return undefined;
  }
  return { fromMs: fromMs ?? Number.NEGATIVE_INFINITY, untilMs: untilMs ?? Number.POSITIVE_INFINITY };
}

/** Parses every host entry of a list; returns the rules of the valid ones. */
export function validateHosts(
  hosts: unknown,
  includeSubdomains: boolean,
  sink: IssueSink,
  path: readonly PathSegment[],
): HostRule[] {
  const rules: HostRule[] = [];
  if (!Array.isArray(hosts)) {
    sink.add(path, `expected a list, found ${describeValue(hosts)}`);
    return rules;
  }
  if (hosts.length === 0) sink.add(path, 'expected at least 1 entry, found none');
  for (let index = 0; index < hosts.length; index++) {
    const result = parseHostEntry(hosts[index], includeSubdomains);
    if ('message' in result) {
      sink.add(
        result.field === undefined ? [...path, index] : [...path, index, result.field],
        result.message,
      );
    } else {
      rules.push(result);
    }
  }
  return rules;
}

function validateCountries(
  countries: unknown,
  groups: GroupResolver,
  sink: IssueSink,
  path: readonly PathSegment[],
): { written: string[]; codes: string[] } {
  const written: string[] = [];
  const codes = new Set<string>();
  if (!Array.isArray(countries)) return { written, codes: [] };
  countries.forEach((entry, index) => {
    if (typeof entry !== 'string') return; // the schema reported it
    const name = entry.trim().toUpperCase();
    written.push(name);
    if (/^[A-Z]{2}$/.test(name)) {
      if (isCountryCode(name)) codes.add(name);
      else sink.add([...path, index], describeBadCountryCode(name));
      return;
    }
    const members = COUNTRY_GROUP_NAME.test(name) ? groups(name) : undefined;
    if (members === undefined) {
      sink.add(
        [...path, index],
        `expected an ISO 3166-1 alpha-2 code or the name of a country group, found ${quote(entry)}`,
      );
      return;
    }
    for (const code of members) codes.add(code);
  });
  return { written, codes: [...codes].sort() };
}
