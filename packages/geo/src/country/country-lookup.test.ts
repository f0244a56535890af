import { describe, expect, test } from 'vitest';
import { chooseRecordCountry, UNKNOWN_COUNTRY } from './country-lookup.js';

describe('chooseRecordCountry', () => {
  test('country wins over registered_country (2.125.160.216: in GB, registered in FR)', () => {
    expect(chooseRecordCountry({ country: 'GB', registeredCountry: 'FR' })).toEqual({
      country: 'GB',
      source: 'database',
      field: 'country',
    });
  });

  test('registered_country answers only when country is absent or unusable', () => {
    const expected = { country: 'FR', source: 'database', field: 'registered_country' };
    expect(chooseRecordCountry({ registeredCountry: 'FR' })).toEqual(expected);
    expect(chooseRecordCountry({ country: '', registeredCountry: 'FR' })).toEqual(expected);
  });

  test('reads the ip-location-db country_code, upper-cased', () => {
    expect(chooseRecordCountry({ countryCode: 'fr' })).toEqual({
      country: 'FR',
      source: 'database',
      field: 'country_code',
    });
  });

  test('anything that is not two letters is unknown', () => {
    expect(chooseRecordCountry({ countryCode: 'FRA' })).toBe(UNKNOWN_COUNTRY);
    expect(chooseRecordCountry({ country: 'F1' })).toBe(UNKNOWN_COUNTRY);
    expect(chooseRecordCountry({})).toBe(UNKNOWN_COUNTRY);
  });

  test('answers are frozen and shared, so a caller cannot corrupt another lookup', () => {
    const first = chooseRecordCountry({ country: 'DE' });
    expect(chooseRecordCountry({ country: 'de' })).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(UNKNOWN_COUNTRY)).toBe(true);
  });
});
