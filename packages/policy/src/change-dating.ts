import { isStorableInstant } from './document.js';
import type { IssueSink } from './issue-sink.js';

/**
 * How far after this node's clock a notification or lift may be dated. A change is in force from the
 * moment it is applied, so a date later than that would be a record that contradicts what the node did
 * (a block in force under a notice dated tomorrow), and a lift dated ahead would make the node date every
 * later notification of its host after it. Five minutes covers a caller whose clock runs a little ahead of
 * the node's (hosts synchronised by NTP differ by milliseconds; an unsynchronised laptop by seconds to a
 * few minutes; Kerberos allows the same 5 minutes for that reason), while a date a day or a year ahead is
 * refused as the mistake it is. Past dates stay allowed: a regulator's notice is often entered after it
 * was issued.
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60_000;

/**
 * The clock a change is validated against. `replay` is for a change accepted once already (stored in a
 * state directory, or forwarded to a cluster worker): its date is not held against the clock again, so a
 * node whose clock was stepped back, or one reading changes stored before this rule existed, replays what
 * was in force rather than dropping it.
 */
export type ChangeClock = { readonly nowMs: number; readonly replay: boolean };

export type ChangeDate = { at: string; atMs: number };

/**
 * The date of a notify or lift-host: the `at` given, or now moved just past `after` (the record this change
 * must follow, when that is later: two changes in one millisecond). Records an issue at `at` when the date
 * is more than {@link CLOCK_SKEW_ALLOWANCE_MS} after the node's clock, or one the policy could not store.
 */
export function dateChange(
  givenAt: string | undefined,
  after: number,
  clock: ChangeClock,
  sink: IssueSink,
): ChangeDate {
  if (givenAt !== undefined) {
    const atMs = Date.parse(givenAt);
    // An unparsable or unstorable `at` already has its schema issue; one message per problem.
    if (isStorableInstant(atMs) && isAhead(atMs, clock)) {
      sink.add(
        ['at'],
        `expected a date-time at most ${allowance()} after this node's clock (${iso(clock.nowMs)}), found ${JSON.stringify(givenAt)}: a change is in force as soon as it is applied, so it cannot be dated later`,
      );
    }
    return { at: givenAt, atMs };
  }
  const atMs = Math.max(clock.nowMs, after);
  if (!isStorableInstant(atMs)) {
    sink.add(
      ['at'],
      'expected a date from 1970 to 9998 (UTC): this change would have to be dated after the end of 9998 to follow the last one',
    );
    return { at: '', atMs };
  }
  if (isAhead(atMs, clock)) {
    sink.add(
      ['at'],
      `expected a date at most ${allowance()} after this node's clock (${iso(clock.nowMs)}): this change would have to be dated ${iso(atMs)} to follow the last one`,
    );
  }
  return { at: iso(atMs), atMs };
}

function isAhead(atMs: number, clock: ChangeClock): boolean {
  return !clock.replay && atMs > clock.nowMs + CLOCK_SKEW_ALLOWANCE_MS;
}

function allowance(): string {
  return `${CLOCK_SKEW_ALLOWANCE_MS / 60_000} minutes`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
