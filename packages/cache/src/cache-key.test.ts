import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { makeCacheKey } from './cache-key.js';

describe('makeCacheKey', () => {
  test('is method, normalised host and path exactly as received', () => {
    expect(makeCacheKey({ method: 'GET', host: 'example.com', path: '/a/b?x=1' })).toBe(
      'GET example.com /a/b?x=1',
    );
  });

  test('HEAD shares the GET key, because a HEAD is answered from the stored GET', () => {
    expect(makeCacheKey({ method: 'HEAD', host: 'example.com', path: '/' })).toBe(
      makeCacheKey({ method: 'GET', host: 'example.com', path: '/' }),
    );
  });

  test('no part is decoded, folded or reordered', () => {
    const keys = ['/a', '/A', '/%61', '/a?', '/a?x=1&y=2', '/a?y=2&x=1', '/b/../a'].map((path) =>
      makeCacheKey({ method: 'GET', host: 'example.com', path }),
    );
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('host and path cannot be shifted into one another', () => {
    expect(makeCacheKey({ method: 'GET', host: 'a.com', path: 'evil.com/x' })).not.toBe(
      makeCacheKey({ method: 'GET', host: 'a.comevil.com', path: '/x' }),
    );
  });

  test('different (host, path) pairs never share a key', () => {
    const host = fc.stringMatching(/^[a-z0-9.-]{1,20}$/);
    const path = fc.string({ maxLength: 30 });
    fc.assert(
      fc.property(host, path, host, path, (hostA, pathA, hostB, pathB) => {
        fc.pre(hostA !== hostB || pathA !== pathB);
        expect(makeCacheKey({ method: 'GET', host: hostA, path: pathA })).not.toBe(
          makeCacheKey({ method: 'GET', host: hostB, path: pathB }),
        );
      }),
    );
  });

  test('a key is the same for a request repeated, and its own for each request that differs from the last', () => {
    const requests = [
      { method: 'GET', host: 'a.com', path: '/x' },
      { method: 'GET', host: 'a.com', path: '/x' },
      { method: 'HEAD', host: 'a.com', path: '/x' },
      { method: 'GET', host: 'a.com', path: '/y' },
      { method: 'GET', host: 'b.com', path: '/y' },
      { method: 'POST', host: 'b.com', path: '/y' },
      { method: 'GET', host: 'b.com', path: '/y' },
    ];
    expect(requests.map((request) => makeCacheKey(request))).toEqual([
      'GET a.com /x',
      'GET a.com /x',
      'GET a.com /x',
      'GET a.com /y',
      'GET b.com /y',
      'POST b.com /y',
      'GET b.com /y',
    ]);
    expect(() => makeCacheKey({ method: 'GET', host: 'b.com ', path: '/y' })).toThrow(
      expect.objectContaining({ code: 'CACHE_KEY_INVALID' }),
    );
  });

  test('a host with whitespace is a caller bug and is refused with CACHE_KEY_INVALID', () => {
    expect(() => makeCacheKey({ method: 'GET', host: 'a.com /x', path: '/' })).toThrow(
      expect.objectContaining({
        code: 'CACHE_KEY_INVALID',
        message:
          'cache key needs a method and a normalised host without whitespace, got "GET" and "a.com /x"',
      }),
    );
    expect(() => makeCacheKey({ method: 'GET', host: '', path: '/' })).toThrow(
      expect.objectContaining({ code: 'CACHE_KEY_INVALID' }),
    );
  });
});
