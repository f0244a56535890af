import CachePolicy from 'http-cache-semantics';
import { describe, expect, test } from 'vitest';
import { notStoredReason } from './storability.js';

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
