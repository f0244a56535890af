import type { IncomingMessage } from 'node:http';
import { createHttpCache, type HeaderMap } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough } from './support/client.js';
import { startOrigin } from './support/origin.js';

/**
 * An origin that trusts everything it is told, as careless frameworks do: it honours URL, method, host
 * and scheme overrides and reflects them into a cacheable page. Whatever the attacker sends, the next
 * ordinary visitor must get the ordinary page.
 */
function gullibleOrigin(request: IncomingMessage): { status: number; body: string } {
  const header = (name: string) => request.headers[name] as string | undefined;
  const url = header('x-original-url') ?? header('x-rewrite-url') ?? request.url;
  const method =
    header('x-http-method-override') ??
    header('x-http-method') ??
    header('x-method-override') ??
    request.method;
  const host =
    header('x-forwarded-host') ??
    header('x-host') ??
    header('x-forwarded-server') ??
    header('x-original-host') ??
    'example.com';
  const scheme = header('x-forwarded-scheme') ?? header('x-forwarded-proto') ?? 'https';
  const forwarded = header('forwarded') ?? '';
  if (scheme !== 'https') return { status: 301, body: 'redirect to https' };
  if (forwarded.includes('evil')) return { status: 200, body: `<script src="//${forwarded}/x.js">` };
  return { status: 200, body: `${method} ${url} <script src="https://${host}/app.js">` };
}

const ordinaryPage = 'GET /page <script src="https://example.com/app.js">';

describe('cache poisoning attempts', () => {
  test.each<[string, HeaderMap]>([
    ['X-Original-URL', { 'x-original-url': '/admin' }],
    ['X-Rewrite-URL', { 'x-rewrite-url': '/admin' }],
    ['X-HTTP-Method-Override', { 'x-http-method-override': 'DELETE' }],
    ['X-HTTP-Method', { 'x-http-method': 'POST' }],
    ['X-Method-Override', { 'x-method-override': 'PUT' }],
    ['X-Forwarded-Scheme', { 'x-forwarded-scheme': 'http' }],
    ['X-Host', { 'x-host': 'evil.example' }],
    ['X-Forwarded-Server', { 'x-forwarded-server': 'evil.example' }],
    ['X-Original-Host', { 'x-original-host': 'evil.example' }],
    ['Forwarded', { forwarded: 'host=evil.example;proto=http' }],
  ])('%s sent by an attacker never changes what is stored or served', async (_name, attack) => {
    const origin = await startOrigin((request, response) => {
      const { status, body } = gullibleOrigin(request);
      response.writeHead(status, { 'cache-control': 'max-age=600', 'content-type': 'text/html' }).end(body);
    });
    const cache = createHttpCache();
    const attacker = await fetchThrough(cache, origin, cacheRequest('/page', attack));
    expect(attacker.text).toBe(ordinaryPage);
    await attacker.storing;

    const visitor = await fetchThrough(cache, origin, cacheRequest('/page'));
    expect(visitor).toMatchObject({ status: 200, outcome: 'hit', text: ordinaryPage });
    for (const name of Object.keys(attack)) expect(origin.requests[0]?.headers[name]).toBeUndefined();
  });

  test('an X-Forwarded-Host that reached the cache only ever selects its own variant', async () => {
    const origin = await startOrigin((request, response) => {
      const { status, body } = gullibleOrigin(request);
      response.writeHead(status, { 'cache-control': 'max-age=600' }).end(body);
    });
    const cache = createHttpCache();
    const attacker = await fetchThrough(
      cache,
      origin,
      cacheRequest('/page', { 'x-forwarded-host': 'evil.example' }),
    );
    await attacker.storing;
    const visitor = await fetchThrough(cache, origin, cacheRequest('/page'));
    expect(visitor.text).toBe(ordinaryPage);
    const edgeView = await fetchThrough(
      cache,
      origin,
      cacheRequest('/page', { 'x-forwarded-host': 'example.com' }),
    );
    expect(edgeView.text).toBe(ordinaryPage);
  });

  test('the key uses the normalised host the edge passes, never the raw Host header', async () => {
    const origin = await startOrigin((request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=600' }).end(`served for ${request.headers.host}`);
    });
    const cache = createHttpCache();
    await (await fetchThrough(cache, origin, cacheRequest('/', { host: 'evil.example' }, 'GET', 'a.example')))
      .storing;
    const otherSite = await fetchThrough(
      cache,
      origin,
      cacheRequest('/', { host: 'evil.example' }, 'GET', 'b.example'),
    );
    expect(otherSite.outcome).toBe('miss');
    const sameSite = await fetchThrough(
      cache,
      origin,
      cacheRequest('/', { host: 'A.EXAMPLE' }, 'GET', 'a.example'),
    );
    expect(sameSite.outcome).toBe('hit');
  });

  test('paths are keyed exactly as received: no decoding, case folding or dot-segment removal', async () => {
    const origin = await startOrigin((request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=600' }).end(request.url);
    });
    const cache = createHttpCache();
    for (const path of ['/a', '/A', '/%61', '/b/../a', '/a?', '/a?x=1', '/a?x=1&y=2', '/a?y=2&x=1']) {
      const reply = await fetchThrough(cache, origin, cacheRequest(path));
      expect(reply).toMatchObject({ outcome: 'miss', text: path });
      await reply.storing;
    }
    expect(cache.stats.entries).toBe(8);
  });

  test('a Range request is passed through and its partial response is never stored or served to others', async () => {
    const origin = await startOrigin((request, response) => {
      if (request.headers.range)
        response.writeHead(206, { 'content-range': 'bytes 0-1/6', 'cache-control': 'max-age=600' }).end('he');
      else response.writeHead(200, { 'cache-control': 'max-age=600' }).end('hello!');
    });
    const cache = createHttpCache();
    const partial = await fetchThrough(cache, origin, cacheRequest('/r', { range: 'bytes=0-1' }));
    expect(partial).toMatchObject({ status: 206, outcome: 'bypass', notStored: 'range', text: 'he' });
    expect(partial.cacheStatus).toBe('edge451; fwd=request; fwd-status=206; detail=range');
    expect(await fetchThrough(cache, origin, cacheRequest('/r'))).toMatchObject({
      status: 200,
      text: 'hello!',
    });
  });

  test('an attacker-chosen Vary value is only served to requests with the same value', async () => {
    const origin = await startOrigin((request, response) => {
      response
        .writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language' })
        .end(`lang ${request.headers['accept-language']}`);
    });
    const cache = createHttpCache();
    await (await fetchThrough(cache, origin, cacheRequest('/l', { 'accept-language': '<script>' }))).storing;
    expect((await fetchThrough(cache, origin, cacheRequest('/l', { 'accept-language': 'fr' }))).text).toBe(
      'lang fr',
    );
  });

  test('a HEAD or a POST cannot leave a response that a GET is then served', async () => {
    const origin = await startOrigin((request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=600' }).end(`answer to ${request.method}`);
    });
    const cache = createHttpCache();
    await fetchThrough(cache, origin, cacheRequest('/m', {}, 'HEAD'));
    await fetchThrough(cache, origin, cacheRequest('/m', {}, 'POST'));
    expect((await fetchThrough(cache, origin, cacheRequest('/m'))).text).toBe('answer to GET');
  });
});
