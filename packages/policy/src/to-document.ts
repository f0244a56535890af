import type { LiftDocument, NotificationDocument, OrderDocument, PolicyDocument } from './document.js';
import { patternOf, toHostEntry } from './host-pattern.js';
import type { ValidatedLift, ValidatedNotification } from './validate-document.js';
import type { ValidatedOrder } from './validate-order.js';

/** What a document is made of, whether it comes straight from validation or from a compiled policy. */
export type DocumentParts = {
  readonly unknownCountry: 'allow' | 'block' | undefined;
  readonly groups: { toRecord(): Record<string, string[]> };
  readonly orders: readonly ValidatedOrder[];
  readonly notifications: readonly ValidatedNotification[];
  readonly lifts: readonly ValidatedLift[];
};

/**
 * The normalised document form of a policy: names as A-labels, countries upper case, every default
 * written out. Notifications and lifts are kept with their provenance; host entries of notifications are
 * written relative to their order's current `includeSubdomains`, so re-reading gives the same rules.
 */
export function documentOf(parts: DocumentParts): PolicyDocument {
  const groups = parts.groups.toRecord();
  const includeSubdomains = new Map(parts.orders.map((order) => [order.id, order.includeSubdomains]));
  // Key order for readers of GET /policy: unknownCountry, countryGroups, orders, notifications, lifts.
  return {
    ...(parts.unknownCountry === undefined ? {} : { unknownCountry: parts.unknownCountry }),
    ...(Object.keys(groups).length === 0 ? {} : { countryGroups: groups }),
    orders: parts.orders.map(orderDocument),
    ...(parts.notifications.length === 0
      ? {}
      : {
          notifications: parts.notifications.map((notification) =>
            notificationDocument(notification, includeSubdomains.get(notification.orderId) ?? false),
          ),
        }),
    ...(parts.lifts.length === 0 ? {} : { lifts: parts.lifts.map(liftDocument) }),
  };
}

/** The document form of one validated order. */
export function orderDocument(order: ValidatedOrder): OrderDocument {
  return {
    id: order.id,
    authority: order.authority,
    reference: order.reference,
    ...(order.url === undefined ? {} : { url: order.url }),
    countries: [...order.countries],
    ...(order.from === undefined ? {} : { from: order.from }),
    ...(order.until === undefined ? {} : { until: order.until }),
    includeSubdomains: order.includeSubdomains,
    purgeCache: order.purgeCache,
    hosts: order.rules.map((rule) => toHostEntry(rule, order.includeSubdomains)),
  };
}

/** The document form of a notification, its hosts relative to its order's `includeSubdomains`. */
export function notificationDocument(
  notification: ValidatedNotification,
  includeSubdomains: boolean,
): NotificationDocument {
  return {
    orderId: notification.orderId,
    notifiedBy: notification.notifiedBy,
    reference: notification.reference,
    at: notification.at,
    hosts: notification.rules.map((rule) => toHostEntry(rule, includeSubdomains)),
  };
}

/** The document form of a lift. */
export function liftDocument(lift: ValidatedLift): LiftDocument {
  return {
    orderId: lift.orderId,
    host: patternOf(lift.rule),
    liftedBy: lift.liftedBy,
    ...(lift.reference === undefined ? {} : { reference: lift.reference }),
    at: lift.at,
  };
}
