import type { Decision, DecisionReason } from './decide.js';
import { EXACT, MATCH_KIND_NAMES, type MatchKind, WILDCARD } from './host-pattern.js';
import type { EffectiveOrder } from './order.js';
import type { PolicyState } from './policy-state.js';
import type { Ref } from './refs.js';

/** The best match so far in one category, by DECISIONS #5; `start` is where the matched suffix begins. */
class Best {
  constructor(
    public order: EffectiveOrder,
    public kind: MatchKind,
    public start: number,
  ) {}

  /** Takes the candidate if it precedes: kind, then longer name (smaller start), earliest `from`, smallest id. */
  offer(order: EffectiveOrder, kind: MatchKind, start: number): void {
    if (kind !== this.kind) {
      if (kind > this.kind) return;
    } else if (start !== this.start) {
      if (start > this.start) return;
    } else if (order.fromMs !== this.order.fromMs) {
      if (order.fromMs > this.order.fromMs) return;
    } else if (order.id >= this.order.id) {
      return;
    }
    this.order = order;
    this.kind = kind;
    this.start = start;
  }
}

function offer(best: Best | undefined, order: EffectiveOrder, kind: MatchKind, start: number): Best {
  if (best === undefined) return new Best(order, kind, start);
  best.offer(order, kind, start);
  return best;
}

/**
 * The matches of one decision, sorted as they are found into the best blocking one, the best active one
 * that does not cover the client's country, and the best one outside its window (DECISIONS #3–#5).
 * Made only when some rule names the host, so a miss allocates nothing but its answer.
 */
export class Matches {
  private blocking: Best | undefined;
  private active: Best | undefined;
  private inactive: Best | undefined;

  constructor(
    private readonly at: number,
    private readonly country: string | undefined,
    private readonly blockUnknown: boolean,
    private readonly slots: PolicyState['slots'],
  ) {}

  /** Sorts the rules naming the suffix that starts at `start` (0: the host itself). */
  consider(refs: readonly Ref[], start: number): void {
    for (let position = 0; position < refs.length; position++) {
      const { key, kind } = refs[position] as Ref;
      // EXACT rules match only the host itself, WILDCARD rules only its proper suffixes (DECISIONS #2).
      if (start === 0 ? kind === WILDCARD : kind === EXACT) continue;
      const order = this.slots[key];
      if (order === undefined) continue; // a replaced or deleted order
      if (this.at < order.fromMs || this.at >= order.untilMs) {
        this.inactive = offer(this.inactive, order, kind, start);
      } else if (this.country === undefined ? this.blockUnknown : order.countrySet.has(this.country)) {
        this.blocking = offer(this.blocking, order, kind, start);
      } else {
        this.active = offer(this.active, order, kind, start);
      }
    }
  }

  /** The decision for the host `raw.slice(0, end)`. */
  verdict(raw: string, end: number): Decision {
    const unknown = this.country === undefined;
    if (this.blocking !== undefined) {
      return verdict(true, unknown ? 'unknown-country-blocked' : 'order-match', raw, end, this.blocking);
    }
    if (this.active !== undefined) {
      return verdict(
        false,
        unknown ? 'unknown-country-allowed' : 'country-not-covered',
        raw,
        end,
        this.active,
      );
    }
    if (this.inactive !== undefined) return verdict(false, 'outside-window', raw, end, this.inactive);
    return { blocked: false, reason: 'no-order', host: raw.slice(0, end) };
  }
}

function verdict(blocked: boolean, reason: DecisionReason, raw: string, end: number, best: Best): Decision {
  const host = end === raw.length ? raw : raw.slice(0, end);
  const name = best.start === 0 ? host : host.slice(best.start);
  const matchedHost = best.kind === WILDCARD ? `*.${name}` : name;
  return { blocked, reason, host, order: best.order, matchedHost, match: MATCH_KIND_NAMES[best.kind] };
}

/** `at` as epoch ms: a Date or a number; anything else, or an invalid one, means now. */
export function instantOf(at: Date | number | undefined): number {
  if (typeof at === 'number') return Number.isFinite(at) ? at : Date.now();
  if (at instanceof Date) {
    const time = at.getTime();
    return Number.isFinite(time) ? time : Date.now();
  }
  return Date.now();
}
