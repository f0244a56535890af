import { EXACT, type HostRule, type MatchKind, patternOf, SUBTREE, WILDCARD } from './host-pattern.js';
import type { Ref, Refs } from './refs.js';
import type { ValidatedLift, ValidatedNotification } from './validate-document.js';
import type { ValidatedOrder } from './validate-order.js';

/** One effective host of an order: its pattern text and where it came from. */
export type OrderHost = {
  /** `example.com`, or `*.example.com` for a wildcard. */
  readonly host: string;
  /** Whether the name's subdomains are covered too (always false for a wildcard, which covers only them). */
  readonly includeSubdomains: boolean;
  readonly source: 'order' | 'notification';
};

/**
 * A legal order as a compiled policy sees it. `hosts` is the EFFECTIVE list (the order's own hosts plus
 * notified ones, minus lifted ones), computed on first access: it may be millions long, which is also
 * why `JSON.stringify(order)` leaves it out (log `order.id`, use `Policy.toDocument()` for everything).
 */
export interface Order {
  readonly id: string;
  readonly authority: string;
  readonly reference: string;
  readonly url: string | undefined;
  /** As written (upper case): codes and group names. */
  readonly countries: readonly string[];
  /** Every ISO 3166-1 alpha-2 code covered once groups are expanded, sorted. */
  readonly countryCodes: readonly string[];
  /** RFC 3339, inclusive; `undefined` means since ever. */
  readonly from: string | undefined;
  /** RFC 3339, exclusive; `undefined` means open-ended. */
  readonly until: string | undefined;
  /** The default for the order's plain host names. */
  readonly includeSubdomains: boolean;
  /** Whether cached responses of a host this order starts blocking are purged (default true). */
  readonly purgeCache: boolean;
  readonly hosts: readonly OrderHost[];
  readonly hostCount: number;
}

/** An in-force lift: the lift and the rule kinds it removed (restored if a later notification re-blocks). */
export type LiftState = { readonly lift: ValidatedLift; readonly removed: readonly MatchKind[] };

/** The compiled, immutable part of an order: one per `put-order` (a replaced order gets a new key). */
export class OrderCore {
  readonly refs: readonly [Ref, Ref, Ref];
  readonly singles: readonly [Refs, Refs, Refs];
  readonly countrySet: ReadonlySet<string>;

  constructor(
    readonly key: number,
    readonly order: ValidatedOrder,
  ) {
    const ref = (kind: MatchKind): Ref => Object.freeze({ key, kind });
    this.refs = [ref(EXACT), ref(SUBTREE), ref(WILDCARD)];
    this.singles = [
      Object.freeze([this.refs[0]]),
      Object.freeze([this.refs[1]]),
      Object.freeze([this.refs[2]]),
    ];
    this.countrySet = new Set(order.countryCodes);
  }
}

/** An order in one snapshot: its core plus the notifications and lifts that snapshot knows. */
export class EffectiveOrder implements Order {
  // Copied from the core so that decide() reads them without a second hop.
  readonly id: string;
  readonly fromMs: number;
  readonly untilMs: number;
  readonly countrySet: ReadonlySet<string>;
  private cachedHosts: readonly OrderHost[] | undefined;

  constructor(
    readonly core: OrderCore,
    /** All notifications of the snapshot (filtered by id when needed). */
    private readonly allNotifications: readonly ValidatedNotification[],
    /** In-force lifts by pattern text. */
    readonly lifted: ReadonlyMap<string, LiftState>,
    readonly hostCount: number,
  ) {
    this.id = core.order.id;
    this.fromMs = core.order.fromMs;
    this.untilMs = core.order.untilMs;
    this.countrySet = core.countrySet;
  }

  get authority(): string {
    return this.core.order.authority;
  }
  get reference(): string {
    return this.core.order.reference;
  }
  get url(): string | undefined {
    return this.core.order.url;
  }
  get countries(): readonly string[] {
    return this.core.order.countries;
  }
  get countryCodes(): readonly string[] {
    return this.core.order.countryCodes;
  }
  get from(): string | undefined {
    return this.core.order.from;
  }
  get until(): string | undefined {
    return this.core.order.until;
  }
  get includeSubdomains(): boolean {
    return this.core.order.includeSubdomains;
  }
  get purgeCache(): boolean {
    return this.core.order.purgeCache;
  }

  /** The notifications of this order, oldest first. */
  get notifications(): readonly ValidatedNotification[] {
    return this.allNotifications.filter((notification) => notification.orderId === this.id);
  }

  get hosts(): readonly OrderHost[] {
    this.cachedHosts ??= Object.freeze(this.effectiveRules().map(toOrderHost));
    return this.cachedHosts;
  }

  /** The effective rules with their source, deduplicated: listed + notified − lifted. */
  effectiveRules(): { rule: HostRule; source: OrderHost['source'] }[] {
    const seen = new Set<string>();
    const result: { rule: HostRule; source: OrderHost['source'] }[] = [];
    const visit = (rule: HostRule, source: OrderHost['source']) => {
      const identity = `${rule.kind}${rule.name}`;
      if (seen.has(identity) || this.lifted.has(patternOf(rule))) return;
      seen.add(identity);
      result.push({ rule, source });
    };
    for (const rule of this.core.order.rules) visit(rule, 'order');
    for (const notification of this.notifications)
      for (const rule of notification.rules) visit(rule, 'notification');
    return result;
  }

  /** Metadata only: the host list may be millions long. */
  toJSON(): Omit<Order, 'hosts'> {
    const { id, authority, reference, url, countries, countryCodes, from, until } = this;
    return { id, authority, reference, url, countries, countryCodes, from, until, ...this.flags() };
  }

  private flags() {
    return {
      includeSubdomains: this.includeSubdomains,
      purgeCache: this.purgeCache,
      hostCount: this.hostCount,
    };
  }
}

function toOrderHost({ rule, source }: { rule: HostRule; source: OrderHost['source'] }): OrderHost {
  return { host: patternOf(rule), includeSubdomains: rule.kind === SUBTREE, source };
}
