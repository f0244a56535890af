import { describe, expect, test } from 'vitest';
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
