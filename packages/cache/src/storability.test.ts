import fc from 'fast-check';
import CachePolicy from 'http-cache-semantics';
import { describe, expect, test } from 'vitest';
import { createPolicyClass, POLICY_OPTIONS } from './policy.js';
import { lowerCaseDirectiveNames } from './request-headers.js';
import { notStoredReason, refusedByCacheControl } from './storability.js';

function reasonFor(
  status: number,
  headers: Record<string, string>,
  requestHeaders: Record<string, string> = {},
) {
  const policy = new CachePolicy(
    { method: 'GET', url: '/', headers: { host: 'example.com', ...requestHeaders } },
    { status, headers },
    { shared: true },
  );
  return notStoredReason(policy, headers, requestHeaders.authorization !== undefined, 1000);
}

describe('notStoredReason', () => {
  test.each([
    [200, { 'cache-control': 'max-age=60' }, {}, undefined],
    [200, { etag: '"v"' }, {}, undefined],
    [200, { 'cache-control': 'no-cache', 'last-modified': 'Wed, 26 Mar 2025 10:00:00 GMT' }, {}, undefined],
    [200, { 'cache-control': 'no-store, max-age=60' }, {}, 'origin-no-store'],
    [200, { 'cache-control': 'private, max-age=60' }, {}, 'private'],
    [200, { 'cache-control': 'max-age=60' }, { authorization: 'Basic x' }, 'authorization'],
    [200, { 'cache-control': 'public, max-age=60' }, { authorization: 'Basic x' }, undefined],
    [200, { 'cache-control': 'public, max-age=60', 'set-cookie': 'a=b' }, {}, 'set-cookie'],
    [200, { 'cache-control': 'max-age=60', vary: 'Accept, *' }, {}, 'vary-star'],
    [200, {}, {}, 'no-freshness'],
    [200, { 'cache-control': 'max-age=0' }, {}, 'no-freshness'],
    [302, { location: '/x' }, {}, 'status'],
    [206, { 'cache-control': 'max-age=60' }, {}, 'status'],
    [503, { 'cache-control': 'max-age=60' }, {}, 'status'],
    [200, { 'cache-control': 'max-age=60', 'content-length': '1001' }, {}, 'too-large'],
    [200, { 'cache-control': 'max-age=60', 'content-length': '1000' }, {}, undefined],
  ] as const)('%i %j with request %j → %s', (status, headers, requestHeaders, expected) => {
    expect(reasonFor(status, { ...headers }, { ...requestHeaders })).toBe(expected);
  });
});

describe('refusedByCacheControl', () => {
  test.each([
    ['no-store', 'origin-no-store'],
    ['No-Store, max-age=60', 'origin-no-store'],
    ['private, no-store', 'origin-no-store'],
    ['Private', 'private'],
    ['public, max-age=60', undefined],
    ['no-cache', undefined],
    ['', undefined],
  ] as const)('%j → %s', (cacheControl, expected) => {
    expect(refusedByCacheControl(cacheControl)).toBe(expected);
  });

  test('no Cache-Control refuses nothing by itself', () => {
    expect(refusedByCacheControl(undefined)).toBeUndefined();
  });

  // The shortcut admitResponse takes must give the full decision's answer whenever it gives one.
  test('a refusal is what the full policy decides for every request and status', () => {
    const Policy = createPolicyClass(Date.now);
    const directive = fc.constantFrom(
      'no-store',
      'No-Store',
      'private',
      'PRIVATE',
      'public',
      'no-cache',
      'must-revalidate',
      'proxy-revalidate',
      'max-age=60',
      's-maxage=0',
      'pre-check=0',
      'post-check=0',
      'private="set-cookie"',
      'no-store=1',
      ' ',
    );
    fc.assert(
      fc.property(
        fc.array(directive, { maxLength: 4 }).map((parts) => parts.join(', ')),
        fc.constantFrom(200, 203, 204, 206, 301, 302, 304, 404, 410, 500, 503),
        fc.record({
          authorization: fc.option(fc.constant('Basic x'), { nil: undefined }),
          'cache-control': fc.option(fc.constantFrom('no-cache', 'max-age=0', 'only-if-cached'), {
            nil: undefined,
          }),
        }),
        fc.option(fc.constantFrom('Wed, 26 Mar 2025 10:00:00 GMT'), { nil: undefined }),
        (cacheControl, status, requestFields, expires) => {
          const requestHeaders: Record<string, string> = { host: 'example.com' };
          for (const [name, value] of Object.entries(requestFields)) {
            if (value !== undefined) requestHeaders[name] = value;
          }
          const headers: Record<string, string> = { 'cache-control': lowerCaseDirectiveNames(cacheControl) };
          if (expires !== undefined) headers.expires = expires;
          const policy = new Policy(
            { method: 'GET', url: '/', headers: requestHeaders },
            { status, headers },
            POLICY_OPTIONS,
          );
          const full = notStoredReason(policy, headers, requestHeaders.authorization !== undefined, 1000);
          const refused = refusedByCacheControl(cacheControl);
          if (refused !== undefined) expect(full).toBe(refused);
          else expect(['origin-no-store', 'private']).not.toContain(full);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
