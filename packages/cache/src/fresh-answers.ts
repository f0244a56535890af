import type CachePolicy from 'http-cache-semantics';
import { atInstant, policyNow, ttlSeconds } from './policy.js';

/**
 * What http-cache-semantics answered for a fresh stored response, reused until any part of that answer
 * could change: a hit then costs a map lookup and a copy instead of `evaluateRequest` and its header
 * copy (~6,000 instructions, a third of a hit's cache work).
 *
 * For a request that selects the entry (same key, same Vary variant, which the caller checks first),
 * the answer depends on the clock alone: request Cache-Control and Pragma never reach the policy
 * (request-headers.ts). It changes only when
 * - `Date` turns to the next second (http-date.ts formats it per second),
 * - `Age`, `Math.round(age)`, or Cache-Status' `ttl`, `Math.round(maxAge - age)`, moves on,
 * - the response turns stale (`maxAge <= age`), or
 * - its age passes a day, where the library adds its 113 warning to heuristic lifetimes.
 * The answer and its bounds are computed with the clock held at one instant, `since` (`atInstant`);
 * `age` grows with the clock from there, `maxAge` does not move. An answer is used only inside
 * [since, until), `until` half a millisecond before the first change, so floating-point error can end it
 * early but never late. A clock that goes back also ends it.
 */
export interface FreshAnswer {
  /** The response headers to serve: shared by every hit the answer is kept for, so never changed. */
  readonly headers: Readonly<CachePolicy.Headers>;
  readonly ttlSeconds: number;
  /**
   * The whole head of a hit's reply from this answer (`Cache-Status` and `Content-Length` added), made by
   * its first hit and shared, frozen, by the rest (replies.ts `hitReply`).
   */
  hit?: SharedHit;
}

/** A fresh hit's reply head, the same for every hit of one kept answer. */
export interface SharedHit {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly cacheStatus: string;
}

interface KeptAnswer extends FreshAnswer {
  readonly since: number;
  readonly until: number;
}

const SAFETY_MS = 0.5;
const DAY_SECONDS = 24 * 3600;

// Keyed by the live policy object: a revalidated entry gets a new one, and with it a new answer.
const keptAnswers = new WeakMap<CachePolicy, KeptAnswer>();

/** The answer kept for `policy` if it is still exactly what the library would say now. */
export function keptFreshAnswer(policy: CachePolicy): FreshAnswer | undefined {
  const kept = keptAnswers.get(policy);
  if (kept === undefined) return undefined;
  const now = policyNow(policy);
  if (now < kept.since || now >= kept.until) return undefined;
  return kept;
}

/**
 * Keeps `headers`, which `policy.evaluateRequest` returned for a fresh hit (no revalidation) with its clock
 * held at `since` (`atInstant`), and returns the answer to serve. The bounds are computed at that same
 * instant: a clock read later could already be past a boundary the headers were made before.
 */
export function keepFreshAnswer(
  policy: CachePolicy,
  headers: CachePolicy.Headers,
  since: number,
): FreshAnswer {
  const { age, maxAge, ttl } = atInstant(since, () => ({
    age: policy.age(),
    maxAge: policy.maxAge(),
    ttl: ttlSeconds(policy),
  }));
  const secondsUntil = [
    // Math.round(age) is next larger at age = round + 0.5.
    Math.round(age) + 0.5 - age,
    // Math.round(maxAge - age) is next smaller once maxAge - age drops below ttl - 0.5.
    maxAge - age - (ttl - 0.5),
    maxAge - age,
    age <= DAY_SECONDS ? DAY_SECONDS - age : Number.POSITIVE_INFINITY,
  ];
  const nextDate = (Math.floor(since / 1000) + 1) * 1000;
  const until = Math.min(nextDate, since + Math.min(...secondsUntil) * 1000) - SAFETY_MS;
  const kept: KeptAnswer = { since, until, headers, ttlSeconds: ttl, hit: undefined };
  keptAnswers.set(policy, kept);
  return kept;
}
