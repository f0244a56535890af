import { CacheError, createHttpCache, type HttpCache, type PurgeSelector } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough } from './support/client.js';
import { type ScriptedOrigin, startOrigin } from './support/origin.js';

/** Fills a cache with the same few URLs on two hosts, tagged by the origin. */
async function filledCache(): Promise<{
  cache: HttpCache;
  origin: ScriptedOrigin;
  cachedPaths: (host: string) => Promise<string[]>;
}> {
  const origin = await startOrigin((request, response) => {
    const tags = request.url?.startsWith('/images/') ? 'images' : 'pages';
    response
      .writeHead(200, {
        'cache-control': 'max-age=600',
        'surrogate-key': `${tags} all-content`,
        'cache-tag': `host-${request.headers.host}`,
      })
      .end(`${request.headers.host}${request.url}`);
  });
  const cache = createHttpCache();
  const paths = ['/', '/images/a.png', '/images/b.png', '/images?page=2', '/about'];
  for (const host of ['a.example', 'b.example']) {
    for (const path of paths)
      await (await fetchThrough(cache, origin, cacheRequest(path, {}, 'GET', host))).storing;
  }
  const cachedPaths = async (host: string) => {
    const cached: string[] = [];
    for (const path of paths) {
      const before = origin.count();
      const reply = await fetchThrough(cache, origin, cacheRequest(path, {}, 'GET', host));
      if (reply.outcome === 'hit') cached.push(path);
      if (origin.count() !== before) await reply.storing;
    }
    return cached;
  };
  return { cache, origin, cachedPaths };
}

describe('purge', () => {
  test('by URL removes that URL only, given with or without a scheme', async () => {
    const { cache, cachedPaths } = await filledCache();
    expect(await cache.purge({ url: 'https://a.example/about' })).toBe(1);
    expect(await cache.purge({ url: 'a.example/' })).toBe(1);
    expect(await cache.purge({ url: 'http://a.example/about' })).toBe(0);
    expect(await cachedPaths('a.example')).toEqual(['/images/a.png', '/images/b.png', '/images?page=2']);
    expect(await cachedPaths('b.example')).toHaveLength(5);
  });

  test('by host removes every entry of that host and nothing else', async () => {
    const { cache, cachedPaths } = await filledCache();
    expect(await cache.purge({ host: 'a.example' })).toBe(5);
    expect(cache.stats.entries).toBe(5);
    expect(await cachedPaths('b.example')).toHaveLength(5);
  });

  test('by host suffix removes every subdomain, not the host named', async () => {
    const { cache, cachedPaths } = await filledCache();
    expect(await cache.purge({ hostSuffix: 'example' })).toBe(10);
    expect(await cache.purge({ hostSuffix: 'a.example' })).toBe(0);
    expect(await cachedPaths('a.example')).toEqual([]);
  });

  test('by prefix removes the paths under it on that host only', async () => {
    const { cache, cachedPaths } = await filledCache();
    expect(await cache.purge({ prefix: 'a.example/images/' })).toBe(2);
    expect(await cachedPaths('a.example')).toEqual(['/', '/images?page=2', '/about']);
    expect(await cachedPaths('b.example')).toHaveLength(5);
  });

  test('by surrogate key removes what the origin tagged with Surrogate-Key or Cache-Tag', async () => {
    const { cache, cachedPaths } = await filledCache();
    expect(await cache.purge({ surrogateKey: 'images' })).toBe(4);
    expect(await cachedPaths('b.example')).toEqual(['/', '/images?page=2', '/about']);
    expect(await cache.purge({ surrogateKey: 'host-a.example' })).toBe(3);
    expect(await cache.purge({ surrogateKey: 'unknown' })).toBe(0);
  });

  test('everything', async () => {
    const { cache } = await filledCache();
    expect(await cache.purge({ all: true })).toBe(10);
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 0 });
  });

  test('a purged entry is fetched again from the origin', async () => {
    const { cache, origin } = await filledCache();
    const before = origin.count();
    await cache.purge({ url: 'a.example/about' });
    expect((await fetchThrough(cache, origin, cacheRequest('/about', {}, 'GET', 'a.example'))).outcome).toBe(
      'miss',
    );
    expect(origin.count()).toBe(before + 1);
  });

  test.each<[unknown, string]>([
    [
      {},
      'invalid purge selector: give exactly one of url, host, hostSuffix, prefix, surrogateKey or all, got nothing',
    ],
    [
      { host: 'a.example', all: true },
      'invalid purge selector: give exactly one of url, host, hostSuffix, prefix, surrogateKey or all, got host, all',
    ],
    [{ all: 'yes' }, 'invalid purge selector: all must be true'],
    [{ host: '' }, 'invalid purge selector: host must be a non-empty string, got ""'],
    [
      { host: 'A.Example' },
      'invalid purge selector: expected a host name or IP address as requests use them, got "A.Example"',
    ],
    [
      { prefix: 'a.example' },
      'invalid purge selector: prefix must be a host followed by a path starting with "/", got "a.example"',
    ],
    [
      { url: '/about' },
      'invalid purge selector: url must be a host followed by a path starting with "/", got "/about"',
    ],
    [{ surrogateKey: 42 }, 'invalid purge selector: surrogateKey must be a non-empty string, got 42'],
    [
      { path: '/x' },
      'invalid purge selector: unknown selector path; expected url, host, hostSuffix, prefix, surrogateKey or all',
    ],
  ])('a malformed selector %j is refused with CACHE_PURGE_INVALID', async (selector, message) => {
    const cache = createHttpCache();
    const purge = cache.purge(selector as PurgeSelector);
    await expect(purge).rejects.toBeInstanceOf(CacheError);
    await expect(purge).rejects.toMatchObject({ code: 'CACHE_PURGE_INVALID', source: 'client', message });
  });
});
