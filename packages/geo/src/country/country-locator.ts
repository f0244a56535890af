import { stat } from 'node:fs/promises';
import { configError, GeoError } from '../errors.js';
import { ParsedIp, parseIpInto } from '../ip/parse-ip.js';
import type { PrefixTrie } from '../ip/prefix-trie.js';
import {
  type CountryDatabase,
  fileIdentityOf,
  type GeoDatabaseInfo,
  loadCountryDatabase,
} from './country-database.js';
import { type CountryLookup, UNKNOWN_COUNTRY } from './country-lookup.js';
import { embeddedDatabasePath } from './embedded-database.js';
import { type CountryOverride, compileOverrides } from './overrides.js';
import { type DirectoryWatch, watchDirectoryOf } from './watch-directory.js';

/** What `onReload` hears after each reload attempt. */
export type GeoReloadEvent = { ok: true; info: GeoDatabaseInfo } | { ok: false; error: GeoError };

/** Options of {@link openCountryLocator}. */
export interface CountryLocatorOptions {
  /** A MaxMind DB file (GeoIP2/GeoLite2 Country or City, or ip-location-db). Default: the embedded database. */
  path?: string;
  /** Networks answered before the database (private ranges, corrections, tests). Default: none. */
  overrides?: CountryOverride[];
  /** Reload when the file is replaced. Default: true. */
  watch?: boolean;
  /** Quiet time after the last change in the directory before the file is re-read. Default: 250 ms. */
  watchDebounceMs?: number;
  /**
   * Called after every reload attempt, watched or explicit, with the new database's info or the
   * error that kept the old one in use (log it, count `db_reload_error`). Exceptions it throws
   * are turned into process warnings.
   */
  onReload?: (event: GeoReloadEvent) => void;
}

/** Answers "which country is this address in?" from a database that can be replaced while in use. */
export interface CountryLocator {
  /**
   * The country of `ip` (IPv4, IPv6, or IPv4-mapped IPv6, which is looked up as IPv4). Overrides
   * first, then the database. Never throws: garbage (or a non-string) is `{ country: null,
   * source: 'unknown' }`. Synchronous and allocation-free; the result is frozen and shared.
   */
  lookupCountry(ip: string): CountryLookup;
  /** The database currently answering. */
  readonly info: GeoDatabaseInfo;
  /**
   * Re-reads and verifies the file now, then swaps it in. On failure throws `GeoError`
   * `GEO_DB_INVALID` and keeps the current database. Concurrent calls run one after the other.
   */
  reload(): Promise<void>;
  /** Stops watching the file. Lookups keep working with the current database. */
  close(): void;
}

/**
 * Opens a country database (default: the embedded one), verifies it fully, and watches it for
 * replacement (`watch: true`, the default). Rejects with `GeoError` `GEO_CONFIG_INVALID` for bad
 * options (every problem listed), `GEO_DB_INVALID` if the file cannot be used, `GEO_WATCH_FAILED`
 * if its directory cannot be watched. Call once at start-up and share the locator.
 */
export async function openCountryLocator(options: CountryLocatorOptions = {}): Promise<CountryLocator> {
  checkOptions(options);
  const overrides = compileOverrides(options.overrides);
  const path = options.path ?? embeddedDatabasePath();
  const database = await loadCountryDatabase(path);
  const locator = new WatchedCountryLocator(path, database, overrides, options.onReload);
  if (options.watch ?? true) locator.startWatching(options.watchDebounceMs ?? 250);
  return locator;
}

function checkOptions(options: CountryLocatorOptions): void {
  const issues: string[] = [];
  const { path, watch, watchDebounceMs, onReload } = options ?? {};
  if (path !== undefined && (typeof path !== 'string' || path === ''))
    issues.push('path must be a non-empty string');
  if (watch !== undefined && typeof watch !== 'boolean') issues.push('watch must be true or false');
  if (watchDebounceMs !== undefined && !(Number.isFinite(watchDebounceMs) && watchDebounceMs >= 0)) {
    issues.push('watchDebounceMs must be a number >= 0');
  }
  if (onReload !== undefined && typeof onReload !== 'function') issues.push('onReload must be a function');
  if (issues.length > 0) throw configError('geo locator options', issues);
}

class WatchedCountryLocator implements CountryLocator {
  private readonly address = new ParsedIp();
  private reloadQueue: Promise<unknown> = Promise.resolve();
  private watch: DirectoryWatch | undefined;
  /** The last file a watched reload refused, so that it is reported once, not on every later change. */
  private refusedIdentity: string | undefined;

  constructor(
    private readonly path: string,
    private database: CountryDatabase,
    private readonly overrides: PrefixTrie<CountryLookup> | null,
    private readonly onReload: ((event: GeoReloadEvent) => void) | undefined,
  ) {}

  // The last address looked up, with the database that answered: requests come in runs from one client
  // (or one load balancer's line), and a string comparison costs less than parsing and walking the tree.
  private lastIp: string | undefined;
  private lastDatabase: CountryDatabase | undefined;
  private lastAnswer: CountryLookup = UNKNOWN_COUNTRY;

  // An arrow so that `const { lookupCountry } = locator` works.
  readonly lookupCountry = (ip: string): CountryLookup => {
    if (ip === this.lastIp && this.database === this.lastDatabase) return this.lastAnswer;
    const answer = this.lookupUncached(ip);
    this.lastIp = ip;
    this.lastDatabase = this.database;
    this.lastAnswer = answer;
    return answer;
  };

  private lookupUncached(ip: string): CountryLookup {
    if (typeof ip !== 'string' || parseIpInto(ip, this.address) === 0) return UNKNOWN_COUNTRY;
    if (this.overrides !== null) {
      const override = this.overrides.match(this.address);
      if (override !== undefined) return override;
    }
    return this.database.lookup(this.address);
  }

  get info(): GeoDatabaseInfo {
    return this.database.info;
  }

  reload(): Promise<void> {
    const attempt = this.reloadQueue.then(() => this.loadAndSwap());
    this.reloadQueue = attempt.catch(() => undefined);
    return attempt;
  }

  close(): void {
    this.watch?.close();
    this.watch = undefined;
  }

  startWatching(debounceMs: number): void {
    const onSettled = () => {
      this.reloadQueue = this.reloadQueue.then(() => this.reloadIfReplaced()).catch(() => undefined);
    };
    const onError = (error: Error) => {
      this.watch = undefined;
      const message = `stopped watching ${this.path} for updates: ${error.message}`;
      this.report({ ok: false, error: new GeoError('GEO_WATCH_FAILED', message, { cause: error }) });
    };
    try {
      this.watch = watchDirectoryOf(this.path, debounceMs, onSettled, onError);
    } catch (error) {
      const message = `cannot watch ${this.path} for updates: ${(error as Error).message}`;
      throw new GeoError('GEO_WATCH_FAILED', message, { cause: error });
    }
  }

  /**
   * Something changed in the directory: reload only if the file is neither the one in use nor one already
   * refused. A directory keeps changing around a bad file (the next download's temporary file, other
   * databases beside it): its failure is reported once, as each good replacement is.
   */
  private async reloadIfReplaced(): Promise<void> {
    if (this.watch === undefined) return;
    // A missing file is refused (and reported) once, as a bad one is.
    const current = await stat(this.path).then(fileIdentityOf, () => 'no file');
    if (current === this.database.fileIdentity || current === this.refusedIdentity) return;
    try {
      await this.loadAndSwap();
    } catch (error) {
      this.refusedIdentity = current;
      throw error;
    }
  }

  private async loadAndSwap(): Promise<void> {
    let replacement: CountryDatabase;
    try {
      replacement = await loadCountryDatabase(this.path);
    } catch (error) {
      const geoError = error as GeoError;
      this.report({ ok: false, error: geoError });
      throw geoError;
    }
    // One assignment: a lookup sees the old database or the new one, never a mix.
    this.database = replacement;
    // A file refused before this one is news again if it comes back (the path deleted a second time).
    this.refusedIdentity = undefined;
    this.report({ ok: true, info: replacement.info });
  }

  private report(event: GeoReloadEvent): void {
    if (this.onReload === undefined) {
      if (!event.ok) process.emitWarning(event.error);
      return;
    }
    try {
      this.onReload(event);
    } catch (error) {
      process.emitWarning(error as Error);
    }
  }
}
