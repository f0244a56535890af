import { describe, expect, test } from 'vitest';
import { isNotModified, notModifiedHeaders } from './client-conditionals.js';

const stored = {
  etag: '"v1"',
  'last-modified': 'Wed, 26 Mar 2025 10:00:00 GMT',
  date: 'Thu, 27 Mar 2025 10:00:00 GMT',
};

describe('isNotModified (RFC 9110 §13)', () => {
  test.each([
    ['"v1"', true],
    ['W/"v1"', true],
    ['"v0", "v1"', true],
    ['"a,b", "v1"', true],
    ['*', true],
    ['"v2"', false],
    ['v1', false],
  ])('If-None-Match %s against ETag "v1": %s (weak comparison)', (ifNoneMatch, expected) => {
    expect(isNotModified({ 'if-none-match': ifNoneMatch }, 200, stored)).toBe(expected);
  });

  test('a weak stored ETag matches its strong twin', () => {
    expect(isNotModified({ 'if-none-match': '"v1"' }, 200, { etag: 'W/"v1"' })).toBe(true);
  });

  test('an ETag containing a comma is compared whole', () => {
    expect(isNotModified({ 'if-none-match': '"a,b"' }, 200, { etag: '"a,b"' })).toBe(true);
    expect(isNotModified({ 'if-none-match': '"a"' }, 200, { etag: '"a,b"' })).toBe(false);
  });

  test('If-Modified-Since compares with Last-Modified', () => {
    expect(isNotModified({ 'if-modified-since': 'Wed, 26 Mar 2025 10:00:00 GMT' }, 200, stored)).toBe(true);
    expect(isNotModified({ 'if-modified-since': 'Wed, 26 Mar 2025 09:59:59 GMT' }, 200, stored)).toBe(false);
  });

  test('If-Modified-Since falls back to Date when there is no Last-Modified (RFC 9111 §4.3.2)', () => {
    expect(
      isNotModified({ 'if-modified-since': 'Thu, 27 Mar 2025 10:00:00 GMT' }, 200, { date: stored.date }),
    ).toBe(true);
  });

  test('an invalid If-Modified-Since date is ignored', () => {
    expect(isNotModified({ 'if-modified-since': 'yesterday' }, 200, stored)).toBe(false);
  });

  test('If-None-Match wins over If-Modified-Since', () => {
    expect(
      isNotModified(
        { 'if-none-match': '"v2"', 'if-modified-since': 'Thu, 27 Mar 2025 10:00:00 GMT' },
        200,
        stored,
      ),
    ).toBe(false);
  });

  test('only 2xx responses are ever not modified', () => {
    expect(isNotModified({ 'if-none-match': '"v1"' }, 404, stored)).toBe(false);
  });

  test('without validators nothing is not modified', () => {
    expect(isNotModified({}, 200, stored)).toBe(false);
    expect(isNotModified({ 'if-none-match': '"v1"' }, 200, {})).toBe(false);
  });
});

describe('notModifiedHeaders', () => {
  test('drops body metadata and keeps validators and caching fields', () => {
    const headers = {
      etag: '"v"',
      'cache-control': 'max-age=1',
      'content-length': '5',
      'content-type': 'text/html',
      vary: 'accept',
    };
    expect(notModifiedHeaders(headers)).toEqual({
      etag: '"v"',
      'cache-control': 'max-age=1',
      vary: 'accept',
    });
  });
});
