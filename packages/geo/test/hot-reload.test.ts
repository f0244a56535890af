import { copyFile, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import { type GeoReloadEvent, openCountryLocator } from '../src/index.js';
import { fixtures, replaceByRename, temporaryDirectory } from './support/fixtures.js';

const DEBOUNCE_MS = 20;

/** A locator watching `path`, recording its reload events; closed when the test ends. */
async function watched(path: string, debounceMs = DEBOUNCE_MS) {
  const events: GeoReloadEvent[] = [];
  const locator = await openCountryLocator({
    path,
    watchDebounceMs: debounceMs,
    onReload: (event) => events.push(event),
  });
  onTestFinished(() => locator.close());
  return { locator, events };
}

/** A watched locator over a copy of `initial` in a fresh directory. */
async function watchedCopy(initial: string, debounceMs = DEBOUNCE_MS) {
  const directory = await temporaryDirectory();
  const path = join(directory, 'GeoLite2-Country.mmdb');
  await copyFile(initial, path);
  return { directory, path, ...(await watched(path, debounceMs)) };
}

describe('hot reload', () => {
  test('switches to a database renamed over the file, without restart', async () => {
    const { path, locator, events } = await watchedCopy(fixtures.country);
    expect(locator.lookupCountry('8.8.8.8').country).toBeNull();

    await replaceByRename(fixtures.embedded, path);

    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 5_000 });
    expect(events[0]).toEqual({
      ok: true,
      info: { path, databaseType: 'country ipvAll', buildDate: expect.any(Date) },
    });
    expect(locator.info.databaseType).toBe('country ipvAll');
    expect(locator.lookupCountry('8.8.8.8')).toEqual({
      country: 'US',
      source: 'database',
      field: 'country_code',
    });
  });

  test.each([
    ['Broken-Double-Format', fixtures.brokenDouble, 'double of size'],
    ['Invalid-Node-Count', fixtures.invalidNodeCount, 'node_count 100000'],
  ])(
    'refuses a corrupt replacement (%s), reports it and keeps answering from the old database',
    async (_name, corrupt, reason) => {
      const { path, locator, events } = await watchedCopy(fixtures.city);

      await replaceByRename(corrupt, path);

      await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 5_000 });
      const [event] = events;
      expect(event?.ok).toBe(false);
      if (event?.ok === false) {
        expect(event.error.code).toBe('GEO_DB_INVALID');
        expect(event.error.message).toContain(reason);
      }
      expect(locator.info.databaseType).toBe('GeoIP2-City');
      expect(locator.lookupCountry('81.2.69.160')).toEqual({
        country: 'GB',
        source: 'database',
        field: 'country',
      });

      // A good file afterwards is picked up as usual.
      await replaceByRename(fixtures.liteCountry, path);
      await vi.waitFor(() => expect(events).toHaveLength(2), { timeout: 5_000 });
      expect(events[1]?.ok).toBe(true);
      expect(locator.info.databaseType).toBe('GeoLite2-Country');
    },
  );

  test('follows a symlink re-pointed in the watched directory', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'current.mmdb');
    await symlink(fixtures.country, path);
    const { locator, events } = await watched(path);

    await symlink(fixtures.embedded, `${path}.new`);
    await rename(`${path}.new`, path);

    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 5_000 });
    expect(locator.lookupCountry('8.8.8.8').country).toBe('US');
  });

  test("follows a replacement renamed over a symlink's target in another directory (geoipupdate in /var/lib/GeoIP)", async () => {
    const linkDirectory = await temporaryDirectory();
    const dataDirectory = await temporaryDirectory();
    const target = join(dataDirectory, 'GeoLite2-Country.mmdb');
    await copyFile(fixtures.country, target);
    const path = join(linkDirectory, 'GeoLite2-Country.mmdb');
    await symlink(target, path);
    const { locator, events } = await watched(path);
    expect(locator.lookupCountry('8.8.8.8').country).toBeNull();

    await replaceByRename(fixtures.embedded, target);

    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 5_000 });
    expect(locator.lookupCountry('8.8.8.8').country).toBe('US');
  });

  test('other files changing in the directory do not reload the database', async () => {
    const { directory, events } = await watchedCopy(fixtures.country);
    await writeFile(join(directory, 'GeoLite2-City.mmdb.lock'), 'x');
    await sleep(DEBOUNCE_MS * 10);
    expect(events).toEqual([]);
  });

  // A refused file is reported once, not again on every later change in the directory; once a good file
  // has replaced it, refusing again is news again (the second deletion tests that).
  test.each([
    ['a corrupt replacement', (path: string) => replaceByRename(fixtures.brokenDouble, path)],
    ['a deletion', (path: string) => unlink(path)],
  ])('%s is reported once; the old database stays in use', async (_, refuse) => {
    const { directory, path, locator, events } = await watchedCopy(fixtures.country);
    await refuse(path);
    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 5_000 });

    await writeFile(join(directory, 'GeoLite2-Country.mmdb.download'), 'x');
    await sleep(DEBOUNCE_MS * 10);
    expect(events.map((event) => event.ok)).toEqual([false]);
    expect(locator.lookupCountry('81.2.69.160').country).toBe('GB');

    await replaceByRename(fixtures.embedded, path);
    await vi.waitFor(() => expect(events).toHaveLength(2), { timeout: 5_000 });
    expect(locator.lookupCountry('8.8.8.8').country).toBe('US');
    await refuse(path);
    await vi.waitFor(() => expect(events).toHaveLength(3), { timeout: 5_000 });
    expect(events.map((event) => event.ok)).toEqual([false, true, false]);
    expect(locator.lookupCountry('8.8.8.8').country).toBe('US');
  });

  test('close() stops watching; lookups keep working', async () => {
    const { path, locator, events } = await watchedCopy(fixtures.country);
    locator.close();
    await replaceByRename(fixtures.embedded, path);
    await sleep(DEBOUNCE_MS * 10);
    expect(events).toEqual([]);
    expect(locator.lookupCountry('81.2.69.160').country).toBe('GB');
    expect(locator.lookupCountry('8.8.8.8').country).toBeNull();
  });
});

describe('reload()', () => {
  test('throws GEO_DB_INVALID on a corrupt file and keeps the old database', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'db.mmdb');
    await copyFile(fixtures.country, path);
    const events: GeoReloadEvent[] = [];
    const locator = await openCountryLocator({ path, watch: false, onReload: (event) => events.push(event) });

    await copyFile(fixtures.brokenDouble, path);
    await expect(locator.reload()).rejects.toMatchObject({ code: 'GEO_DB_INVALID' });
    expect(locator.info.databaseType).toBe('GeoIP2-Country');
    expect(locator.lookupCountry('2.125.160.216').country).toBe('GB');

    await copyFile(fixtures.embedded, path);
    await locator.reload();
    expect(locator.lookupCountry('8.8.8.8').country).toBe('US');
    expect(events.map((event) => event.ok)).toEqual([false, true]);
  });

  test('an exception thrown by onReload does not break reloading', async () => {
    const locator = await openCountryLocator({
      path: fixtures.country,
      watch: false,
      onReload: () => {
        throw new Error('logger is down');
      },
    });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    onTestFinished(() => {
      process.off('warning', onWarning);
    });
    await expect(locator.reload()).resolves.toBeUndefined();
    await vi.waitFor(() => expect(warnings.map((warning) => warning.message)).toContain('logger is down'));
  });
});

describe('hot reload under load', () => {
  test('concurrent lookups never fail while databases are swapped, good and corrupt', {
    timeout: 30_000,
  }, async () => {
    const { path, locator, events } = await watchedCopy(fixtures.country, 5);
    // Answers every database in the rotation agrees on.
    const expected: Record<string, string> = {
      '2a02:cfc0::1': 'FR',
      '81.2.69.160': 'GB',
      '::ffff:216.160.83.56': 'US',
      '2.125.160.216': 'GB',
    };
    const addresses = Object.keys(expected);
    let lookups = 0;
    const failures: string[] = [];
    let running = true;
    const hammer = async () => {
      while (running) {
        for (let round = 0; round < 2_000; round++) {
          const ip = addresses[round % addresses.length] as string;
          try {
            const answer = locator.lookupCountry(ip);
            if (answer.country !== expected[ip] || answer.source !== 'database')
              failures.push(`${ip}: ${JSON.stringify(answer)}`);
          } catch (error) {
            failures.push(`${ip}: threw ${(error as Error).message}`);
          }
          lookups++;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const load = hammer();

    const rotation = [
      fixtures.embedded,
      fixtures.brokenDouble,
      fixtures.city,
      fixtures.invalidNodeCount,
      fixtures.liteCountry,
      fixtures.embedded,
    ];
    for (const [index, next] of rotation.entries()) {
      await replaceByRename(next, path);
      await vi.waitFor(() => expect(events.length).toBeGreaterThanOrEqual(index + 1), { timeout: 10_000 });
    }
    running = false;
    await load;

    expect(failures).toEqual([]);
    expect(events.map((event) => event.ok)).toEqual([true, false, true, false, true, true]);
    expect(lookups).toBeGreaterThan(100_000);
  });
});
