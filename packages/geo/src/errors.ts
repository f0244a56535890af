/**
 * Stable error codes of `@edge451/geo`; grep for them in logs and alerts.
 * - `GEO_CONFIG_INVALID`: options given to a factory are wrong (bad CIDR, bad country, wrong type).
 * - `GEO_DB_INVALID`: a database file is missing, unreadable, not a MaxMind DB, or fails validation.
 * - `GEO_WATCH_FAILED`: the directory watcher behind hot reload stopped working.
 */
export type GeoErrorCode = 'GEO_CONFIG_INVALID' | 'GEO_DB_INVALID' | 'GEO_WATCH_FAILED';

/**
 * The only error type this package throws or reports. Thrown by factories (bad options) and by
 * `CountryLocator.reload()`; handed to `onReload` for failed hot reloads. Lookups and client-IP
 * resolution never throw. `issues` lists every problem found when several were (config checks
 * report all of them at once, not only the first).
 */
export class GeoError extends Error {
  override readonly name = 'GeoError';
  readonly code: GeoErrorCode;
  readonly issues: readonly string[];

  constructor(
    code: GeoErrorCode,
    message: string,
    options: { cause?: unknown; issues?: readonly string[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues ?? [message];
  }
}

/** Builds the one `GEO_CONFIG_INVALID` error that lists every issue found in an options object. */
export function configError(what: string, issues: readonly string[]): GeoError {
  const list = issues.map((issue) => `  - ${issue}`).join('\n');
  return new GeoError('GEO_CONFIG_INVALID', `invalid ${what}:\n${list}`, { issues });
}
