import { z } from 'zod';
import type { HostEntry } from './host-pattern.js';
import { quote } from './host-pattern.js';

/** Only for format checks: type and presence errors get the generic "expected …, found …" wording. */
function formatError(expected: string) {
  return (issue: { code?: string; input?: unknown }) =>
    issue.code === 'invalid_format' ? `expected ${expected}, found ${quote(String(issue.input))}` : undefined;
}

/** A required text field: at least one non-space character. */
export const text = z.string().regex(/\S/, { error: formatError('a non-empty text') });

/** Order ids are stable identifiers that appear in 451 responses, logs and admin URLs. */
export const ORDER_ID = /^[a-z0-9._-]{1,128}$/;
/** An order id field (see {@link ORDER_ID}). */
export const orderId = z
  .string()
  .regex(ORDER_ID, { error: formatError('an id of 1–128 lower-case letters, digits, ".", "_" or "-"') });

// Instants are stored back in UTC (`toISOString`), and a lift is dated at least 1 ms after its
// notification: past the start of 9999 a date could end in year 10000, which toISOString writes as
// `+010000-…`, no RFC 3339 date-time, and the stored change would no longer load.
const EARLIEST_INSTANT_MS = Date.UTC(1970, 0, 1);
const LATEST_INSTANT_MS = Date.UTC(9999, 0, 1);

/** Whether an instant (epoch ms) is one policy documents may hold: from 1970 to the end of 9998, UTC. */
export function isStorableInstant(ms: number): boolean {
  return ms >= EARLIEST_INSTANT_MS && ms < LATEST_INSTANT_MS;
}

/**
 * RFC 3339 with an explicit offset (`Z` or `±hh:mm`): a local time would depend on the server's zone.
 * From 1970 to the end of 9998, in UTC.
 */
export const instant = z.iso
  .datetime({
    offset: true,
    error: formatError('an RFC 3339 date-time with an offset, such as "2025-03-28T00:00:00Z"'),
  })
  .refine(
    (value) => {
      const ms = Date.parse(value);
      // An unparsable value already has its format error.
      return Number.isNaN(ms) || isStorableInstant(ms);
    },
    { error: (issue) => `expected a date-time from 1970 to 9998 (UTC), found ${quote(String(issue.input))}` },
  );

const httpUrl = z.url({ protocol: /^https?$/, error: formatError('an http(s) URL') });

// Host lists can hold a million entries: validate-order.ts checks them in one plain loop (shape included)
// rather than through a zod schema per entry.
const hostList = z.custom<HostEntry[]>(() => true);

/** The document shape of one order; hosts and countries are checked further by validate-order.ts. */
export const orderSchema = z.strictObject({
  id: orderId,
  authority: text,
  reference: text,
  url: httpUrl.optional(),
  countries: z.array(z.string()).min(1),
  hosts: hostList,
  includeSubdomains: z.boolean().optional(),
  from: instant.optional(),
  until: instant.optional(),
  purgeCache: z.boolean().optional(),
});

/** A regulator notification adding (mirror) hosts to an existing order. */
export const notificationSchema = z.strictObject({
  orderId,
  hosts: hostList,
  notifiedBy: text,
  reference: text,
  at: instant,
});

/** The lifting of one host of an order (its pattern text: `example.com` or `*.example.com`). */
export const liftSchema = z.strictObject({
  orderId,
  host: z.string(),
  liftedBy: text,
  reference: text.optional(),
  at: instant,
});

/** The top level; its lists are checked entry by entry so that every entry's problems are reported. */
export const documentSchema = z.strictObject({
  unknownCountry: z.enum(['allow', 'block']).optional(),
  countryGroups: z.record(z.string(), z.array(z.string()).min(1)).optional(),
  orders: z.array(z.unknown()),
  notifications: z.array(z.unknown()).optional(),
  lifts: z.array(z.unknown()).optional(),
});

/**
 * One legal order as a document writes it. `countries` are ISO 3166-1 alpha-2 codes or group names;
 * `hosts` are names, `*.` wildcards or `{ host, includeSubdomains }`; `includeSubdomains` is the default
 * for plain names (false); `from` is inclusive and `until` exclusive; `purgeCache` defaults to true.
 */
export type OrderDocument = z.output<typeof orderSchema>;
/** `{ orderId, hosts, notifiedBy, reference, at }`: hosts the regulator added to an order. */
export type NotificationDocument = z.output<typeof notificationSchema>;
/** `{ orderId, host, liftedBy, reference?, at }`: one host of an order that no longer blocks. */
export type LiftDocument = z.output<typeof liftSchema>;

/**
 * A validated policy document (what {@link parsePolicyText}, {@link loadPolicyFiles} and
 * `Policy.toDocument()` return): hosts normalised, country codes and group names upper case.
 */
export type PolicyDocument = {
  unknownCountry?: 'allow' | 'block';
  countryGroups?: Record<string, string[]>;
  orders: OrderDocument[];
  notifications?: NotificationDocument[];
  lifts?: LiftDocument[];
};

/** The keys an object of each schema accepts, for "unknown key" messages. */
export function keysOf(schema: { shape: Record<string, unknown> }): string[] {
  return Object.keys(schema.shape);
}
