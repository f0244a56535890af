import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { keepFreshAnswer, keptFreshAnswer } from './fresh-answers.js';
import { lookupStored } from './lookup.js';
import { atInstant, createPolicyClass, ttlSeconds } from './policy.js';
import { LazyPolicyRequest } from './request-headers.js';
import type { StoredResponse } from './stores/store.js';
import { variantKey } from './vary.js';

const request = { method: 'GET', url: '/', headers: { host: 'example.com' } };
// Not on a second: the Date, Age and freshness boundaries then fall at different instants.
const start = Date.parse('2025-03-28T10:00:00.250Z');
const optional = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: undefined });
const secondsFromStart = (seconds: number) => new Date(start + seconds * 1000).toUTCString();

/** A 200 response with `headers`, stored now, under a policy class whose clock is `clock`. */
function storedResponse(headers: Record<string, string>, clock: () => number) {
  const Policy = createPolicyClass(clock);
  return { Policy, policy: new Policy(request, { status: 200, headers }, { shared: true }) };
}

// Short lifetimes, so that a few seconds of clock cross every boundary: Date, Age and ttl rounding,
// staleness, stale-while-revalidate, and (with an Age near a day) the heuristic 113 warning.
const responseHeaders = fc.record({
  'cache-control': optional(
    fc.constantFrom(
      'max-age=2',
      'max-age=3, must-revalidate',
      's-maxage=1, max-age=600',
      'max-age=1, stale-while-revalidate=2',
      'public',
      'max-age=0',
      'no-cache, max-age=5',
    ),
  ),
  date: optional(fc.integer({ min: -30, max: 0 }).map(secondsFromStart)),
  expires: optional(fc.integer({ min: -2, max: 4 }).map(secondsFromStart)),
  'last-modified': optional(
    fc.constantFrom(
      secondsFromStart(-20),
      secondsFromStart(-11 * 24 * 3600),
      secondsFromStart(-30 * 24 * 3600),
    ),
  ),
  age: optional(fc.constantFrom('0', '1', '86398', '86399', '172799').map(String)),
  etag: optional(fc.constant('"v1"')),
});

/** Clock steps: mostly a few milliseconds on (requests in a burst), some up to 0.7 s, some back. */
const clockSteps = fc.array(
  fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 60 }), weight: 3 },
    { arbitrary: fc.integer({ min: -400, max: 700 }), weight: 1 },
  ),
  { minLength: 1, maxLength: 60 },
);

describe('kept fresh answers', () => {
  test('are what evaluateRequest and ttlSeconds say at every instant they are used', () => {
    let used = 0;
    fc.assert(
      fc.property(responseHeaders, clockSteps, (stored, steps) => {
        let now = start;
        const headers = Object.fromEntries(
          Object.entries(stored).filter((pair): pair is [string, string] => pair[1] !== undefined),
        );
        const { Policy, policy: live } = storedResponse(headers, () => now);
        for (const step of steps) {
          now += step;
          // A policy with no kept answer, as the library sees the stored response at this instant.
          const reference = Policy.fromObject(live.toObject());
          const expected = reference.evaluateRequest(request);
          const fresh = expected.response !== undefined && expected.revalidation === undefined;
          const kept = keptFreshAnswer(live);
          if (kept !== undefined) {
            used += 1;
            expect(fresh).toBe(true);
            expect(kept.headers).toEqual(expected.response?.headers);
            expect(kept.ttlSeconds).toBe(ttlSeconds(reference));
          } else if (fresh) {
            const answer = keepFreshAnswer(live, live.evaluateRequest(request).response?.headers ?? {}, now);
            expect(answer.ttlSeconds).toBe(ttlSeconds(reference));
          }
        }
      }),
      { numRuns: 1500 },
    );
    // The property says nothing unless kept answers were actually served.
    expect(used).toBeGreaterThan(1500);
  });

  test('end when the age passes a day on a heuristic lifetime, where the library adds its 113 warning', () => {
    let now = start;
    const { policy } = storedResponse(
      { age: '86399', 'last-modified': secondsFromStart(-30 * 24 * 3600) },
      () => now,
    );
    now += 800; // age 86,399.8, Age says 86400, no warning yet; Date's second has just begun
    keepFreshAnswer(policy, policy.evaluateRequest(request).response?.headers ?? {}, now);
    expect(keptFreshAnswer(policy)?.headers.warning).toBeUndefined();
    now += 300; // age 86,400.1, same Age, same Date, now with the warning
    expect(keptFreshAnswer(policy)).toBeUndefined();
    expect(policy.evaluateRequest(request).response?.headers.warning).toContain('113');
  });

  test('are made at one instant, however far the clock moves between its reads', () => {
    // Every read of this clock is 150 ms after the last: an answer and its bounds read at different
    // moments would disagree about Date's second and Age's rounding.
    let now = start;
    const { Policy, policy: stored } = storedResponse({ 'cache-control': 'max-age=100' }, () => {
      now += 150;
      return now;
    });
    const entry: StoredResponse = {
      key: 'GET example.com /',
      variant: variantKey([], {}) as string,
      host: 'example.com',
      path: '/',
      surrogateKeys: [],
      policy: stored.toObject(),
      body: Buffer.from('x'),
      expiresAt: Number.POSITIVE_INFINITY,
    };
    const live = Policy.fromObject(entry.policy);
    let kept = 0;
    for (let step = 0; step < 60; step++) {
      const before = now;
      const found = lookupStored([entry], new LazyPolicyRequest({}, 'example.com', '/'), () => live);
      // One clock read: answered from the kept answer; more: evaluated.
      if (now - before === 150) kept += 1;
      // Whichever way it answered, its last clock read is the instant the answer must be of.
      const at = now;
      const reference = Policy.fromObject(entry.policy);
      const expected = atInstant(at, () => reference.evaluateRequest(request));
      if (found.kind !== 'fresh') throw new Error(`not fresh: ${found.kind}`);
      expect(found.found.headers).toEqual(expected.response?.headers);
      expect(found.found.ttlSeconds).toBe(atInstant(at, () => ttlSeconds(reference)));
    }
    expect(kept).toBeGreaterThan(10);
  });
});
