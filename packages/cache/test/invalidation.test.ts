import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough } from './support/client.js';
import { startOrigin } from './support/origin.js';

describe('other methods', () => {
  test('a POST bypasses the cache and, once successful, invalidates the URL (RFC 9111 §4.4)', async () => {
    const origin = await startOrigin((request, response) => {
      if (request.method === 'POST') response.writeHead(201, {}).end('created');
      else response.writeHead(200, { 'cache-control': 'max-age=600' }).end('list');
    });
    const cache = createHttpCache();
    await (await fetchThrough(cache, origin, cacheRequest('/items'))).storing;
    const post = await fetchThrough(cache, origin, cacheRequest('/items', {}, 'POST'));
    expect(post).toMatchObject({ status: 201, outcome: 'bypass', notStored: 'method', text: 'created' });
    expect(post.cacheStatus).toBe('edge451; fwd=method; fwd-status=201; detail=method');
    expect((await fetchThrough(cache, origin, cacheRequest('/items'))).outcome).toBe('miss');
  });

  test('Location and Content-Location on the same host are invalidated too, other hosts are not', async () => {
    const origin = await startOrigin((request, response) => {
      if (request.method === 'PUT') {
        response
          .writeHead(204, { location: '/items/1', 'content-location': 'https://other.example/items/2' })
          .end();
      } else {
        response.writeHead(200, { 'cache-control': 'max-age=600' }).end(request.url);
      }
    });
    const cache = createHttpCache();
    for (const path of ['/items', '/items/1', '/items/2'])
      await (await fetchThrough(cache, origin, cacheRequest(path))).storing;
    await fetchThrough(cache, origin, cacheRequest('/items', {}, 'PUT'));
    expect(cache.stats.entries).toBe(1);
    expect((await fetchThrough(cache, origin, cacheRequest('/items/2'))).outcome).toBe('hit');
  });

  test('an unsafe request that fails leaves the stored response alone', async () => {
    const origin = await startOrigin((request, response) => {
      if (request.method === 'DELETE') response.writeHead(403, {}).end('no');
      else response.writeHead(200, { 'cache-control': 'max-age=600' }).end('kept');
    });
    const cache = createHttpCache();
    await (await fetchThrough(cache, origin, cacheRequest('/x'))).storing;
    await fetchThrough(cache, origin, cacheRequest('/x', {}, 'DELETE'));
    expect((await fetchThrough(cache, origin, cacheRequest('/x'))).outcome).toBe('hit');
  });

  test('OPTIONS bypasses without invalidating', async () => {
    const origin = await startOrigin((request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=600' }).end(request.method);
    });
    const cache = createHttpCache();
    await (await fetchThrough(cache, origin, cacheRequest('/o'))).storing;
    expect((await fetchThrough(cache, origin, cacheRequest('/o', {}, 'OPTIONS'))).outcome).toBe('bypass');
    expect((await fetchThrough(cache, origin, cacheRequest('/o'))).outcome).toBe('hit');
  });

  test('methods are case-sensitive: "get" is a method of unknown safety, so it bypasses and invalidates', async () => {
    const origin = await startOrigin((request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=600' }).end(request.method);
    });
    const cache = createHttpCache();
    await (await fetchThrough(cache, origin, cacheRequest('/o'))).storing;
    expect((await fetchThrough(cache, origin, cacheRequest('/o', {}, 'get'))).outcome).toBe('bypass');
    expect((await fetchThrough(cache, origin, cacheRequest('/o'))).outcome).toBe('miss');
  });

  test('If-Match and If-Unmodified-Since go to the origin untouched', async () => {
    const origin = await startOrigin((request, response) => {
      response.writeHead(412, {}).end(`${request.headers['if-match']}`);
    });
    const cache = createHttpCache();
    const reply = await fetchThrough(cache, origin, cacheRequest('/pre', { 'if-match': '"v1"' }));
    expect(reply).toMatchObject({ status: 412, outcome: 'bypass', notStored: 'precondition', text: '"v1"' });
  });

  test('a GET with content is neither answered from nor stored under its URL (the key cannot hold the content)', async () => {
    let answers = 0;
    const origin = await startOrigin((_request, response) => {
      answers += 1;
      response.writeHead(200, { 'cache-control': 'max-age=600' }).end(`answer ${answers}`);
    });
    const cache = createHttpCache();
    const withContent = { ...cacheRequest('/search'), hasBody: true };
    const reply = await fetchThrough(cache, origin, withContent);
    expect(reply).toMatchObject({ status: 200, outcome: 'bypass', notStored: 'body', text: 'answer 1' });
    expect(reply.cacheStatus).toBe('edge451; fwd=request; fwd-status=200; detail=body');
    const clean = await fetchThrough(cache, origin, cacheRequest('/search'));
    expect(clean).toMatchObject({ outcome: 'miss', text: 'answer 2' });
    await clean.storing;
    expect(await fetchThrough(cache, origin, withContent)).toMatchObject({
      outcome: 'bypass',
      text: 'answer 3',
    });
  });
});
