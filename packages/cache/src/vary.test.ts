import { describe, expect, test } from 'vitest';
import { variantKey, varyFields } from './vary.js';

describe('varyFields', () => {
  test('lists the nominated header names in lower case, empty members dropped', () => {
    expect(varyFields('Accept-Encoding, ACCEPT-language,')).toEqual(['accept-encoding', 'accept-language']);
    expect(varyFields(['Origin', 'Accept'])).toEqual(['origin', 'accept']);
    expect(varyFields(undefined)).toEqual([]);
  });
});

describe('variantKey', () => {
  test('the same header values give the same variant, different ones a different variant', () => {
    const fields = ['accept-language'];
    expect(variantKey(fields, { 'accept-language': 'fr' })).toBe(
      variantKey(fields, { 'accept-language': 'fr', cookie: 'x' }),
    );
    expect(variantKey(fields, { 'accept-language': 'fr' })).not.toBe(
      variantKey(fields, { 'accept-language': 'en' }),
    );
  });

  test('an absent header and an empty one are different variants', () => {
    expect(variantKey(['x-flag'], {})).not.toBe(variantKey(['x-flag'], { 'x-flag': '' }));
  });

  test('the forwarded scheme and host always take part, even without Vary', () => {
    expect(variantKey([], { 'x-forwarded-proto': 'http' })).not.toBe(
      variantKey([], { 'x-forwarded-proto': 'https' }),
    );
    expect(variantKey([], { 'x-forwarded-host': 'evil.example' })).not.toBe(variantKey([], {}));
  });

  test('a header value cannot impersonate another field', () => {
    expect(variantKey(['a', 'b'], { a: '","b","x' })).not.toBe(variantKey(['a', 'b'], { a: '', b: 'x' }));
  });

  test('Vary: * matches nothing', () => {
    expect(variantKey(['*'], {})).toBeUndefined();
  });
});
