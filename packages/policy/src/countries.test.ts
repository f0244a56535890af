import { describe, expect, it } from 'vitest';
import {
  BUILT_IN_COUNTRY_GROUPS,
  describeBadCountryCode,
  isCountryCode,
  normalizeCountry,
} from './countries.js';

describe('countries', () => {
  it('knows the 249 assigned ISO 3166-1 alpha-2 codes plus XK, and nothing else', () => {
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const known = [...letters].flatMap((a) => [...letters].map((b) => a + b)).filter(isCountryCode);
    expect(known).toHaveLength(250);
    expect(known).toEqual(expect.arrayContaining(['FR', 'GB', 'US', 'XK', 'RE', 'NC']));
    expect(['UK', 'EU', 'ZZ', 'XX', 'FX', 'AN'].filter(isCountryCode)).toEqual([]);
  });

  it('ships FR-ALL: France and its overseas codes', () => {
    expect(BUILT_IN_COUNTRY_GROUPS['FR-ALL']).toEqual([
      'FR',
      'GP',
      'MQ',
      'GF',
      'RE',
      'YT',
      'PM',
      'BL',
      'MF',
      'WF',
      'PF',
      'NC',
    ]);
    expect(BUILT_IN_COUNTRY_GROUPS['FR-ALL']?.every(isCountryCode)).toBe(true);
  });

  it('hints at the code operators usually mean', () => {
    expect(describeBadCountryCode('UK')).toBe(
      'expected an ISO 3166-1 alpha-2 country code, found "UK" (did you mean "GB"?)',
    );
    expect(describeBadCountryCode('QQ')).toBe('expected an ISO 3166-1 alpha-2 country code, found "QQ"');
  });

  it('normalises a client country to upper case, and null, undefined or empty to unknown', () => {
    expect(normalizeCountry('fr')).toBe('FR');
    expect(normalizeCountry('Fr')).toBe('FR');
    expect(normalizeCountry('FR')).toBe('FR');
    expect(normalizeCountry(null)).toBeUndefined();
    expect(normalizeCountry(undefined)).toBeUndefined();
    expect(normalizeCountry('')).toBeUndefined();
  });
});
