import { describe, expect, test } from 'vitest';
import { encodeMmdbValue as encode, type MmdbValue } from '../../test/support/write-mmdb.js';
import { MmdbDataSection } from './mmdb-data.js';

/** A data section holding `values` back to back; returns it and each value's offset. */
function section(...values: MmdbValue[]) {
  const parts = values.map((value) => encode(value));
  const offsets = parts.map((_, index) => parts.slice(0, index).reduce((sum, part) => sum + part.length, 0));
  const bytes = Buffer.concat(parts);
  return { data: new MmdbDataSection(bytes, 0, bytes.length), offsets };
}

/** A pointer (spec "Pointer", 11-bit form) to `offset`. */
const pointer = (offset: number): MmdbValue => ({ raw: Buffer.from([0x20 | (offset >> 8), offset & 255]) });

describe('MmdbDataSection.verifyRecord', () => {
  test('accepts a well-formed GeoIP2-like record with shared, pointed-to parts', () => {
    const { data, offsets } = section(
      { iso_code: 'FR', names: { en: 'France' } },
      {
        country: pointer(0),
        registered_country: pointer(0),
        location: { latitude: { double: 48.85 } },
        flags: [true, 7],
      },
    );
    expect(() => data.verifyRecord(offsets[1] as number)).not.toThrow();
    expect(data.readCountryFields(offsets[1] as number)).toEqual({ country: 'FR', registeredCountry: 'FR' });
  });

  test.each<[string, MmdbValue, string]>([
    ['a double of size 2', { raw: Buffer.from([0x62, 0, 0]) }, 'double of size 2 at offset 0'],
    [
      'a float of size 8',
      { raw: Buffer.from([0x08, 0x08, ...Buffer.alloc(8)]) },
      'float of size 8 at offset 0',
    ],
    ['a uint32 of size 5', { raw: Buffer.from([0xc5, 1, 2, 3, 4, 5]) }, 'uint32 of size 5 at offset 0'],
    [
      'a string longer than the section',
      { raw: Buffer.from([0x45, 0x41]) },
      'value at offset 0 runs past the data section',
    ],
    ['an end marker', { raw: Buffer.from([0x00, 0x06]) }, 'invalid data type 13 at offset 0'],
    [
      'an extended type beyond 15',
      { raw: Buffer.from([0x00, 0x09]) },
      'invalid extended type 16 at offset 0',
    ],
    [
      'a map key that is a number',
      { raw: Buffer.concat([Buffer.from([0xe1]), encode(5), encode('x')]) },
      'map key of type 6 at offset 1',
    ],
    ['a pointer outside the section', pointer(1000), 'pointer at offset 0 leads outside the data section'],
    [
      'a map whose size exceeds its bytes',
      { raw: Buffer.from([0xe3, 0x41, 0x61]) },
      'read outside the data section at 3',
    ],
  ])('refuses %s', (_name, value, message) => {
    const { data } = section(value);
    expect(() => data.verifyRecord(0)).toThrow(message);
  });

  test('refuses a pointer to a pointer', () => {
    const { data, offsets } = section('target', pointer(0), pointer(7));
    expect(offsets).toEqual([0, 7, 9]);
    expect(() => data.verifyRecord(9)).toThrow('pointer to a pointer at offset 9');
  });

  test('refuses a record that contains itself instead of looping', () => {
    // A map whose only value points back at the map.
    const { data } = section({
      raw: Buffer.concat([Buffer.from([0xe1]), encode('self'), Buffer.from([0x20, 0])]),
    });
    expect(() => data.verifyRecord(0)).toThrow(/nested deeper than 32 levels/);
  });
});

describe('MmdbDataSection.readCountryFields', () => {
  test('reads each schema and leaves out what is absent or not a string', () => {
    const { data, offsets } = section(
      { country: { iso_code: 'GB' }, registered_country: { iso_code: 'FR' } },
      { registered_country: { iso_code: 'FR' } },
      { country_code: 'us' },
      { country: { iso_code: 42 }, traits: { is_anycast: true } },
      'not a map',
    );
    const read = (index: number) => {
      data.verifyRecord(offsets[index] as number);
      return data.readCountryFields(offsets[index] as number);
    };
    expect(read(0)).toEqual({ country: 'GB', registeredCountry: 'FR' });
    expect(read(1)).toEqual({ registeredCountry: 'FR' });
    expect(read(2)).toEqual({ countryCode: 'us' });
    expect(read(3)).toEqual({ country: undefined });
    expect(read(4)).toEqual({});
  });
});
