import fc from 'fast-check';
import CachePolicy from 'http-cache-semantics';
import { describe, expect, test } from 'vitest';
import { httpDate } from './http-date.js';
import { allowsStaleIfError, createPolicyClass, ttlSeconds } from './policy.js';

const request = { method: 'GET', url: '/', headers: { host: 'example.com' } };

function policyAt(cacheControl: string) {
  let now = Date.parse('2025-03-28T10:00:00Z');
  const Policy = createPolicyClass(() => now);
  const policy = new Policy(
    request,
    { status: 200, headers: { 'cache-control': cacheControl, etag: '"e"' } },
    { shared: true },
  );
  return { policy, advance: (seconds: number) => (now += seconds * 1000) };
}

describe('the cache policy', () => {
  test('ages by the injected clock', () => {
    const { policy, advance } = policyAt('max-age=60');
    advance(15);
    expect(policy.age()).toBe(15);
    expect(ttlSeconds(policy)).toBe(45);
  });

  test('a fresh must-revalidate response needs no revalidation, a stale one does (kornelski/http-cache-semantics#54)', () => {
    const { policy, advance } = policyAt('max-age=60, must-revalidate');
    expect(policy.evaluateRequest(request).revalidation).toBeUndefined();
    expect(policy.satisfiesWithoutRevalidation(request)).toBe(true);
    advance(61);
    expect(policy.evaluateRequest(request)).toMatchObject({
      response: undefined,
      revalidation: { synchronous: true },
    });
  });

  test('stale-while-revalidate is used within its window', () => {
    const { policy, advance } = policyAt('max-age=60, stale-while-revalidate=30');
    advance(70);
    expect(policy.evaluateRequest(request).revalidation).toMatchObject({ synchronous: false });
    advance(30);
    expect(policy.evaluateRequest(request).response).toBeUndefined();
  });

  test.each(['no-cache', 'max-age=60, must-revalidate', 'max-age=60, proxy-revalidate'])(
    '%s forbids serving stale, whatever stale-* says (RFC 9111 §4.2.4)',
    (directives) => {
      const { policy, advance } = policyAt(`${directives}, stale-while-revalidate=600, stale-if-error=600`);
      advance(70);
      expect(policy.evaluateRequest(request).response).toBeUndefined();
      expect(allowsStaleIfError(policy, request)).toBe(false);
    },
  );

  test('stale-if-error is allowed within its window only', () => {
    const { policy, advance } = policyAt('max-age=60, stale-if-error=30');
    advance(80);
    expect(allowsStaleIfError(policy, request)).toBe(true);
    advance(11);
    expect(allowsStaleIfError(policy, request)).toBe(false);
  });

  test('a policy rebuilt from storage keeps the injected clock', () => {
    const { policy, advance } = policyAt('max-age=60');
    const Policy = policy.constructor as ReturnType<typeof createPolicyClass>;
    const rebuilt = Policy.fromObject(policy.toObject());
    advance(30);
    expect(rebuilt.age()).toBe(30);
  });
});

describe('the headers a stored response is served with', () => {
  const start = Date.parse('2025-03-28T10:00:00.250Z');
  const daysMs = (days: number) => days * 24 * 3600 * 1000;
  const optional = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: undefined });
  const instant = fc
    .integer({ min: start - daysMs(120), max: start })
    .map((ms) => new Date(ms).toUTCString());
  const responseHeaders = fc.record({
    'cache-control': optional(
      fc.constantFrom(
        'max-age=60',
        's-maxage=5, max-age=600',
        'public',
        'max-age=0, stale-while-revalidate=9',
      ),
    ),
    date: optional(instant),
    expires: optional(fc.oneof(instant, fc.constant('0'))),
    'last-modified': optional(instant),
    age: optional(fc.nat(200_000).map(String)),
    connection: optional(fc.constantFrom('close', 'keep-alive, x-private', 'x-private , etag')),
    'keep-alive': optional(fc.constant('timeout=5')),
    'x-private': optional(fc.constant('1')),
    warning: optional(fc.constantFrom('110 - "stale"', '299 - "misc"', '110 - "a", 214 - "b"')),
    etag: optional(fc.constant('"v1"')),
  });

  test('are http-cache-semantics own, Date included, whatever the response and the time since storing', () => {
    fc.assert(
      fc.property(responseHeaders, fc.nat(daysMs(3)), (stored, elapsedMs) => {
        let now = start;
        const Policy = createPolicyClass(() => now);
        const headers = Object.fromEntries(Object.entries(stored).filter(([, value]) => value !== undefined));
        const policy = new Policy(request, { status: 200, headers }, { shared: true });
        now += elapsedMs;
        expect(policy.responseHeaders()).toEqual(CachePolicy.prototype.responseHeaders.call(policy));
      }),
      { numRuns: 500 },
    );
  });

  test('Date changes on the second, forwards and backwards', () => {
    for (const ms of [start, start + 749, start + 750, start + 1750, start - 1000, start, 0, -1]) {
      expect(httpDate(ms)).toBe(new Date(ms).toUTCString());
    }
  });
});
