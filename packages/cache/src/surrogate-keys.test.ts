import { describe, expect, test } from 'vitest';
import { surrogateKeysOf, withoutSurrogateHeaders } from './surrogate-keys.js';

describe('surrogate keys', () => {
  test('Surrogate-Key is space-separated and Cache-Tag comma-separated; both are read, duplicates once', () => {
    expect(
      surrogateKeysOf({ 'surrogate-key': ' product-1  Category ', 'cache-tag': 'category, product-1,,home' }),
    ).toEqual(['product-1', 'Category', 'category', 'home']);
  });

  test('repeated header fields are all read', () => {
    expect(surrogateKeysOf({ 'cache-tag': ['a,b', 'c'] })).toEqual(['a', 'b', 'c']);
  });

  test('at most 256 keys are kept from one response', () => {
    const many = Array.from({ length: 1000 }, (_, index) => `k${index}`).join(' ');
    expect(surrogateKeysOf({ 'surrogate-key': many })).toHaveLength(256);
  });

  test('the surrogate headers are removed, the rest kept', () => {
    const headers = { 'surrogate-key': 'a', 'surrogate-control': 'max-age=1', 'cache-tag': 'b', etag: '"x"' };
    expect(withoutSurrogateHeaders(headers)).toEqual({ etag: '"x"' });
  });
});
