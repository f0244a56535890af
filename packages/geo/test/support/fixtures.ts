import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { embeddedDatabasePath } from '../../src/index.js';

/** MaxMind's test databases (MIT), shared by the whole repository: read in place, never copied into it. */
export const geoipFixture = (name: string) =>
  fileURLToPath(new URL(`../../../../fixtures/geoip/${name}`, import.meta.url));

export const fixtures = {
  country: geoipFixture('GeoIP2-Country-Test.mmdb'),
  city: geoipFixture('GeoIP2-City-Test.mmdb'),
  liteCountry: geoipFixture('GeoLite2-Country-Test.mmdb'),
  brokenDouble: geoipFixture('GeoIP2-City-Test-Broken-Double-Format.mmdb'),
  invalidNodeCount: geoipFixture('GeoIP2-City-Test-Invalid-Node-Count.mmdb'),
  embedded: embeddedDatabasePath(),
};

/** A fresh temporary directory, removed when the test finishes. */
export async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'edge451-geo-'));
  onTestFinished(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

/** Replaces `target` the way geoipupdate does: write a temporary file beside it, then rename it over. */
export async function replaceByRename(source: string, target: string): Promise<void> {
  const temporary = `${target}.${process.hrtime.bigint()}.tmp`;
  await copyFile(source, temporary);
  await rename(temporary, target);
}
