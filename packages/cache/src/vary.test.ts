import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { hasVariantValues, parseVariantKey, variantKey, varyFields } from './vary.js';

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

describe('parseVariantKey + hasVariantValues', () => {
  // Few names and values, so that requests often select the stored variant and often miss it by one field.
  const name = fc.constantFrom('accept-language', 'origin', 'x-forwarded-proto', 'x-forwarded-host', 'x-a');
  const value = fc.constantFrom('', 'fr', 'en', 'https', '","x', '\\"', 'null', 'a, b');
  const headers = fc.dictionary(name, value, { maxKeys: 5 });

  test('select exactly the requests whose own variant key equals the stored one', () => {
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 3 }), headers, headers, (fields, stored, request) => {
        const key = variantKey(fields, stored) as string;
        const values = parseVariantKey(fields, key);
        expect(values).toBeDefined();
        const selected = hasVariantValues(fields, values ?? [], { header: (field) => request[field] });
        expect(selected).toBe(variantKey(fields, request) === key);
      }),
      { numRuns: 2000 },
    );
  });

  test('a key that is not one for these fields parses to nothing', () => {
    const key = variantKey(['accept-language'], { 'accept-language': 'fr' }) as string;
    expect(parseVariantKey(['origin'], key)).toBeUndefined();
    expect(parseVariantKey([], key)).toBeUndefined();
    expect(parseVariantKey(['*'], key)).toBeUndefined();
    expect(parseVariantKey([], '')).toBeUndefined();
    expect(parseVariantKey([], '{"a":1}')).toBeUndefined();
    expect(parseVariantKey([], '[1,null]')).toBeUndefined();
    expect(parseVariantKey([], variantKey([], {}) as string)).toEqual([null, null]);
  });
});
