// The officially assigned ISO 3166-1 alpha-2 codes (249), plus XK (Kosovo), a user-assigned code that
// GeoIP2 databases return. Hand-written because it is static data and no dependency may be added;
// `Intl.DisplayNames` cannot check it (it accepts aliases such as UK and FX).
const ASSIGNED_CODES = `
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO
FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO
MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM
TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK`;

const COUNTRY_CODES: ReadonlySet<string> = new Set(ASSIGNED_CODES.trim().split(/\s+/));

// Codes operators write by habit that ISO 3166-1 reserves for something else.
const HINTS: Readonly<Record<string, string>> = { UK: 'GB', EL: 'GR', FX: 'FR' };

/**
 * Country groups every policy can use without defining them. `FR-ALL` is France with its overseas
 * departments, regions and collectivities that have their own ISO code (Guadeloupe, Martinique, French
 * Guiana, Réunion, Mayotte, Saint-Pierre-et-Miquelon, Saint-Barthélemy, Saint-Martin, Wallis-et-Futuna,
 * French Polynesia, New Caledonia): a French order usually covers them, and geolocation databases report
 * them under their own codes, never as FR.
 */
export const BUILT_IN_COUNTRY_GROUPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'FR-ALL': Object.freeze(['FR', 'GP', 'MQ', 'GF', 'RE', 'YT', 'PM', 'BL', 'MF', 'WF', 'PF', 'NC']),
});

/** Whether `code` (upper case) is an assigned ISO 3166-1 alpha-2 code (or XK). */
export function isCountryCode(code: string): boolean {
  return COUNTRY_CODES.has(code);
}

/** Why `code` (two letters, upper case) is not a country code, with a hint when there is an obvious one. */
export function describeBadCountryCode(code: string): string {
  const hint = HINTS[code];
  const suffix = hint === undefined ? '' : ` (did you mean "${hint}"?)`;
  return `expected an ISO 3166-1 alpha-2 country code, found "${code}"${suffix}`;
}

/** Group names are three or more characters so they can never be mistaken for a country code. */
export const COUNTRY_GROUP_NAME = /^[A-Z][A-Z0-9_-]{2,63}$/;

/**
 * The client country as `decide()` compares it: upper case, or `undefined` when unknown
 * (`undefined`, `null` or the empty string, DECISIONS #4).
 */
export function normalizeCountry(country: string | null | undefined): string | undefined {
  if (country === undefined || country === null || country === '') return undefined;
  if (typeof country !== 'string') return undefined;
  const first = country.charCodeAt(0);
  // Skip the allocation when the database already gives upper case, as MaxMind does.
  if (country.length === 2 && first <= 90 && country.charCodeAt(1) <= 90) return country;
  return country.toUpperCase();
}
