import type { CountryFields } from './mmdb-data.js';

/** Where a country answer came from, so a decision can be explained in logs. */
export type CountrySource = 'override' | 'database' | 'unknown';

/** The database field a country was read from (GeoIP2 `country` / `registered_country`, ip-location-db `country_code`). */
export type CountryField = 'country' | 'registered_country' | 'country_code';

/**
 * The answer of `lookupCountry`: an ISO 3166-1 alpha-2 code in upper case, or null when unknown.
 * Results are frozen and shared between lookups: never mutate one.
 */
export type CountryLookup = { country: string | null; source: CountrySource; field?: CountryField };

/** The shared "we do not know" answer (garbage input, address not in the database, record without country). */
export const UNKNOWN_COUNTRY: CountryLookup = Object.freeze({ country: null, source: 'unknown' });

/** Upper-cases a two-letter code; anything else is not a country. */
export function toCountryCode(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Za-z]{2}$/.test(value) ? value.toUpperCase() : null;
}

/**
 * Picks the country of a database record, whichever schema it follows:
 * 1. GeoIP2 / GeoLite2 Country and City: `country.iso_code`, where the address is used.
 * 2. Only when a record has no usable `country.iso_code`: `registered_country.iso_code`, where
 *    the block is registered (MaxMind leaves `country` out when it cannot place the address).
 *    `2.125.160.216` is in GB and registered in FR: the answer is GB.
 * 3. ip-location-db: `country_code`.
 * `represented_country` (e.g. military bases) is ignored: a blocking order is about where the
 * client is. A record with none of these, or a value that is not two letters, is unknown.
 */
export function chooseRecordCountry(fields: CountryFields): CountryLookup {
  const country = toCountryCode(fields.country);
  if (country !== null) return databaseAnswer(country, 'country');
  const registered = toCountryCode(fields.registeredCountry);
  if (registered !== null) return databaseAnswer(registered, 'registered_country');
  const code = toCountryCode(fields.countryCode);
  if (code !== null) return databaseAnswer(code, 'country_code');
  return UNKNOWN_COUNTRY;
}

const databaseAnswers = new Map<string, CountryLookup>();

/** One frozen answer per (country, field), shared by every record and every lookup. */
function databaseAnswer(country: string, field: CountryField): CountryLookup {
  const key = `${field}:${country}`;
  let answer = databaseAnswers.get(key);
  if (answer === undefined) {
    answer = Object.freeze({ country, source: 'database', field });
    databaseAnswers.set(key, answer);
  }
  return answer;
}
