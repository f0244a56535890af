import { createHttpCache, createMemoryStore } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough, manualClock } from './support/client.js';
import { startOrigin } from './support/origin.js';

describe('Vary', () => {
  test('variants are stored under one key and each request gets the variant its headers select', async () => {
    const origin = await startOrigin((request, response) => {
      const language = request.headers['accept-language'] ?? 'none';
      response
        .writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
        .end(`lang=${language}`);
    });
    const cache = createHttpCache();
    const fr = await fetchThrough(cache, origin, cacheRequest('/v', { 'accept-language': 'fr' }));
    expect(fr.cacheStatus).toBe('edge451; fwd=uri-miss; fwd-status=200; stored; ttl=60');
    await fr.storing;
    const en = await fetchThrough(cache, origin, cacheRequest('/v', { 'accept-language': 'en' }));
    expect(en).toMatchObject({ outcome: 'miss', text: 'lang=en' });
    expect(en.cacheStatus).toBe('edge451; fwd=vary-miss; fwd-status=200; stored; ttl=60');
    await en.storing;

    expect(await fetchThrough(cache, origin, cacheRequest('/v', { 'accept-language': 'fr' }))).toMatchObject({
      outcome: 'hit',
      text: 'lang=fr',
    });
    expect(await fetchThrough(cache, origin, cacheRequest('/v', { 'accept-language': 'en' }))).toMatchObject({
      outcome: 'hit',
      text: 'lang=en',
    });
    expect((await fetchThrough(cache, origin, cacheRequest('/v'))).text).toBe('lang=none');
    expect(origin.count()).toBe(3);
    expect(cache.stats.entries).toBe(3);
    expect(await cache.purge({ url: 'https://example.com/v' })).toBe(3);
  });

  test('when the origin starts to send Vary, the fresh variants win over the old entry stored without it', async () => {
    let vary = false;
    const origin = await startOrigin((request, response) => {
      const headers = vary
        ? { 'cache-control': 'max-age=600', vary: 'Accept-Language', etag: '"v2"' }
        : { 'cache-control': 'max-age=1', etag: '"plain"' };
      response.writeHead(200, headers).end(vary ? `lang=${request.headers['accept-language']}` : 'plain');
    });
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await (await fetchThrough(cache, origin, cacheRequest('/w'))).storing;
    clock.advance(2);
    vary = true;
    const fr = { 'accept-language': 'fr' };
    const refreshed = await fetchThrough(cache, origin, cacheRequest('/w', fr));
    expect(refreshed.text).toBe('lang=fr');
    await refreshed.storing;
    // The old entry (no Vary, stale, kept for revalidation) matches too; the newest match is served.
    expect(await fetchThrough(cache, origin, cacheRequest('/w', fr))).toMatchObject({
      outcome: 'hit',
      text: 'lang=fr',
    });
    expect(origin.count()).toBe(2);
  });

  test('an absent Vary header and an empty one select different variants', async () => {
    const origin = await startOrigin((request, response) => {
      response
        .writeHead(200, { 'cache-control': 'max-age=60', vary: 'x-flag' })
        .end(`flag=${request.headers['x-flag'] ?? 'absent'}`);
    });
    const cache = createHttpCache();
    await (await fetchThrough(cache, origin, cacheRequest('/e', { 'x-flag': '' }))).storing;
    expect((await fetchThrough(cache, origin, cacheRequest('/e'))).text).toBe('flag=absent');
  });

  test('the scheme the edge reports (X-Forwarded-Proto) selects its own variant, so an http redirect never reaches https clients', async () => {
    const origin = await startOrigin((request, response) => {
      if (request.headers['x-forwarded-proto'] === 'http') {
        response.writeHead(301, { location: 'https://example.com/r', 'cache-control': 'max-age=3600' }).end();
      } else {
        response.writeHead(200, { 'cache-control': 'max-age=3600' }).end('secure page');
      }
    });
    const cache = createHttpCache();
    const plain = await fetchThrough(cache, origin, cacheRequest('/r', { 'x-forwarded-proto': 'http' }));
    expect(plain.status).toBe(301);
    await plain.storing;
    const secure = await fetchThrough(cache, origin, cacheRequest('/r', { 'x-forwarded-proto': 'https' }));
    expect(secure).toMatchObject({ status: 200, text: 'secure page' });
    await secure.storing;
    expect(
      (await fetchThrough(cache, origin, cacheRequest('/r', { 'x-forwarded-proto': 'http' }))).status,
    ).toBe(301);
    expect(
      (await fetchThrough(cache, origin, cacheRequest('/r', { 'x-forwarded-proto': 'https' }))).status,
    ).toBe(200);
    expect(origin.count()).toBe(2);
  });

  test('past maxVariantsPerKey, the variant least recently served goes; each request still gets its own variant', async () => {
    const origin = await startOrigin((request, response) => {
      response
        .writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
        .end(`lang=${request.headers['accept-language']}`);
    });
    const store = createMemoryStore({ maxBytes: 1_000_000, maxEntryBytes: 100_000, maxVariantsPerKey: 3 });
    const cache = createHttpCache({ store });
    const get = (language: string) =>
      fetchThrough(cache, origin, cacheRequest('/langs', { 'accept-language': language }));
    for (const language of ['fr', 'en', 'de']) await (await get(language)).storing;
    expect(await get('fr')).toMatchObject({ outcome: 'hit', text: 'lang=fr' }); // en is now the oldest used
    await (await get('es')).storing;
    expect(cache.stats.entries).toBe(3);
    for (const language of ['fr', 'de', 'es']) {
      expect(await get(language)).toMatchObject({ outcome: 'hit', text: `lang=${language}` });
    }
    const en = await get('en');
    expect(en).toMatchObject({ outcome: 'miss', text: 'lang=en' });
    expect(en.cacheStatus).toBe('edge451; fwd=vary-miss; fwd-status=200; stored; ttl=60');
    await en.storing;
    expect(cache.stats.entries).toBe(3);
    expect(origin.count()).toBe(5);
  });
});
