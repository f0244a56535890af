import { describe, expect, it } from 'vitest';
import { forwardedClientIp } from './support/blocking-order.js';
import { type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { send } from './support/http.js';
import { startOrigin, type TestOrigin } from './support/origin.js';
import { pairOf, requestOverTls, startEdgeWithTls } from './support/tls.js';

// `rewriteRedirects`: a `Location` / `Content-Location` naming the origin's own address reaches the client
// as the same URL on the scheme and host the client used. The tests use the real binary and a real origin.
// Every test also checks a value that must be rewritten, so a test fails when the rewrite is missing, and
// not only when it goes too far.

type Answer = { status: number; headers: Record<string, string | string[]> };

/** An origin that answers each path with the answer a test scripts for it (404 for any other path). */
async function startScriptedOrigin(): Promise<TestOrigin & { answers: Map<string, Answer> }> {
  const answers = new Map<string, Answer>();
  const origin = await startOrigin((req, res) => {
    const answer = answers.get(req.url ?? '') ?? { status: 404, headers: {} };
    res.writeHead(answer.status, { 'content-length': '0', ...answer.headers });
    res.end();
  });
  return { ...origin, answers };
}

const newsHosts = ['news.example', '*.news.example'];

/** The edge in front of `origin` for news.example, trusting forwarding headers from loopback. */
function startNewsEdge(origin: TestOrigin, site: Record<string, unknown> = {}, others: object[] = []) {
  return startEdge(
    testConfig({
      clientIp: forwardedClientIp,
      sites: [{ name: 'news', hosts: newsHosts, origin: origin.url, ...site }, ...others],
    }),
  );
}

/** GET `path` through the plain listener with `host` as the Host header. */
function get(edge: RunningEdge, host: string, path: string, headers: Record<string, string> = {}) {
  return send(`${edge.url}${path}`, { headers: { host, ...headers } });
}

const edgePortOf = (edge: RunningEdge) => new URL(edge.url).port;

describe('Location on the origin’s own address', () => {
  it('301, 302, 303, 307 and 308, in any spelling of the address, go to the client’s host with the path as sent', async () => {
    const origin = await startScriptedOrigin();
    const { port } = origin;
    const spellings = [
      `http://127.0.0.1:${port}`,
      `HTTP://127.0.0.1:${port}`,
      `Http://127.0.0.1:0${port}`, // a leading zero is the same port
    ];
    // Escapes that a parser would decode or re-encode must come through as sent.
    const rest = '/login?next=%2Fa%20b&x=%7e%zz#Top%20';
    const cases: { path: string; status: number; location: string }[] = [];
    for (const status of [301, 302, 303, 307, 308]) {
      spellings.forEach((spelling, index) => {
        const path = `/${status}/${index}`;
        origin.answers.set(path, { status, headers: { location: `${spelling}${rest}` } });
        cases.push({ path, status, location: `http://news.example${rest}` });
      });
    }
    const edge = await startNewsEdge(origin);

    const answered = [];
    for (const { path } of cases) {
      const response = await get(edge, 'news.example', path);
      answered.push({ path, status: response.status, location: response.headers.location });
    }
    expect(answered).toEqual(cases);
  });

  it('Content-Location and a repeated Location are rewritten too', async () => {
    const origin = await startScriptedOrigin();
    origin.answers.set('/page', {
      status: 200,
      headers: { 'content-location': `${origin.url}/page.en.html` },
    });
    origin.answers.set('/twice', {
      status: 302,
      headers: { location: [`${origin.url}/a`, 'http://elsewhere.example/b'] },
    });
    const edge = await startNewsEdge(origin);

    const page = await get(edge, 'news.example', '/page');
    expect(page.headers['content-location']).toBe('http://news.example/page.en.html');
    const twice = await get(edge, 'news.example', '/twice');
    expect(twice.headers.location).toEqual(['http://news.example/a', 'http://elsewhere.example/b']);
  });

  it('keeps the port the client used, and the host in the edge’s normal spelling', async () => {
    const origin = await startScriptedOrigin();
    origin.answers.set('/go', { status: 302, headers: { location: `${origin.url}/there?x=1` } });
    const edge = await startNewsEdge(origin);
    const edgePort = edgePortOf(edge);

    const locations = [];
    for (const host of [
      `news.example:${edgePort}`,
      'NEWS.Example.',
      'news.example:80',
      'live.news.example',
    ]) {
      locations.push((await get(edge, host, '/go')).headers.location);
    }
    expect(locations).toEqual([
      `http://news.example:${edgePort}/there?x=1`,
      'http://news.example/there?x=1',
      'http://news.example/there?x=1',
      'http://live.news.example/there?x=1',
    ]);
  });

  it('leaves relative references, other hosts, other ports, other schemes and garbage alone', async () => {
    const origin = await startScriptedOrigin();
    const { port } = origin;
    const untouched = [
      '/login?x=1',
      'login',
      `//127.0.0.1:${port}/scheme-relative`,
      'http://other.example/login',
      `http://other.example/?back=http://127.0.0.1:${port}/`,
      'http://127.0.0.1:1/other-port',
      'http://127.0.0.1/default-port',
      `https://127.0.0.1:${port}/other-scheme`,
      `http://user:secret@127.0.0.1:${port}/userinfo`,
      `http://127.0.0.1:${port}\\evil.example/`,
      'http://127.0.0.1:99999/',
      'http://[::1/',
      '::::',
    ];
    untouched.forEach((location, index) => {
      origin.answers.set(`/${index}`, { status: 302, headers: { location } });
    });
    origin.answers.set('/control', { status: 302, headers: { location: `${origin.url}/control` } });
    const edge = await startNewsEdge(origin);

    const answered = [];
    for (const index of untouched.keys()) {
      answered.push((await get(edge, 'news.example', `/${index}`)).headers.location);
    }
    expect(answered).toEqual(untouched);
    expect((await get(edge, 'news.example', '/control')).headers.location).toBe(
      'http://news.example/control',
    );
  });

  it('with preserveHost the origin’s links to the client’s host are kept, and its own address still rewritten', async () => {
    const origin = await startScriptedOrigin();
    origin.answers.set('/own', { status: 302, headers: { location: `${origin.url}/a` } });
    origin.answers.set('/client', { status: 302, headers: { location: 'http://news.example/b' } });
    const edge = await startNewsEdge(origin, { preserveHost: true });
    const edgePort = edgePortOf(edge);
    const host = `news.example:${edgePort}`;

    expect((await get(edge, host, '/own')).headers.location).toBe(`http://news.example:${edgePort}/a`);
    expect((await get(edge, host, '/client')).headers.location).toBe('http://news.example/b');
    expect(origin.requests.map((seen) => seen.headers.host)).toEqual(['news.example', 'news.example']);
  });

  it('rewriteRedirects: false passes the origin’s Location on unchanged, for that site only', async () => {
    const origin = await startScriptedOrigin();
    origin.answers.set('/go', { status: 301, headers: { location: `${origin.url}/there` } });
    const edge = await startNewsEdge(origin, { rewriteRedirects: false }, [
      { name: 'shop', hosts: ['shop.example'], origin: origin.url },
    ]);

    expect((await get(edge, 'news.example', '/go')).headers.location).toBe(`${origin.url}/there`);
    expect((await get(edge, 'shop.example', '/go')).headers.location).toBe('http://shop.example/there');
  });
});

describe('the scheme the client used', () => {
  const tlsSites = (originUrl: string) => [
    { name: 'news', hosts: newsHosts, origin: originUrl, tls: pairOf('news-ecdsa') },
  ];

  it('a client on the TLS listener is sent to https, on the port it used', async () => {
    const origin = await startScriptedOrigin();
    origin.answers.set('/go', { status: 302, headers: { location: `${origin.url}/there` } });
    const { tlsPort } = await startEdgeWithTls({ sites: tlsSites(origin.url) });

    const ask = (host: string) => requestOverTls(tlsPort, { servername: 'news.example', host, path: '/go' });
    expect((await ask('news.example')).headers.location).toBe('https://news.example/there');
    expect((await ask(`news.example:${tlsPort}`)).headers.location).toBe(
      `https://news.example:${tlsPort}/there`,
    );
  });

  it('a trusted proxy’s X-Forwarded-Proto: https gives https on the plain listener', async () => {
    const origin = await startScriptedOrigin();
    origin.answers.set('/go', { status: 302, headers: { location: `${origin.url}/there` } });
    const edge = await startNewsEdge(origin);

    const behindTls = await get(edge, 'news.example', '/go', { 'x-forwarded-proto': 'https' });
    expect(behindTls.headers.location).toBe('https://news.example/there');
    expect((await get(edge, 'news.example', '/go')).headers.location).toBe('http://news.example/there');
  });
});

// The cache keeps the origin's own Location and each reply is rewritten for its client. The cache already
// keeps schemes and hosts apart (it varies every entry on the X-Forwarded-Proto and X-Forwarded-Host it
// sends the origin). One entry therefore reaches clients of different schemes or ports only when a trusted
// proxy's forwarding header makes those two headers equal. That is the case these tests set up.
describe('redirects served from the cache', () => {
  const cacheable = 'public, max-age=600';

  it('a redirect stored for an http client is served to an https client with an https Location', async () => {
    const origin = await startScriptedOrigin();
    origin.answers.set('/moved', {
      status: 302,
      headers: { location: `${origin.url}/new?x=1`, 'cache-control': cacheable },
    });
    const { edge, tlsPort } = await startEdgeWithTls({
      sites: [{ name: 'news', hosts: newsHosts, origin: origin.url, tls: pairOf('news-ecdsa') }],
    });

    const overHttp = await get(edge, 'news.example', '/moved');
    expect(overHttp.headers.location).toBe('http://news.example/new?x=1');
    // A load balancer that re-encrypts to the edge says the client spoke http to it. The cache sees the
    // same variant, and the connection it came in on is TLS.
    const overTls = await requestOverTls(tlsPort, {
      servername: 'news.example',
      host: 'news.example',
      path: '/moved',
      headers: { 'x-forwarded-proto': 'http' },
    });
    expect(overTls.headers['cache-status']).toMatch(/^edge451; hit/);
    expect(overTls.headers.location).toBe('https://news.example/new?x=1');
    // And the stored entry still holds the origin's Location: a third client gets its own again.
    const again = await get(edge, 'news.example', '/moved');
    expect(again.headers['cache-status']).toMatch(/^edge451; hit/);
    expect(again.headers.location).toBe('http://news.example/new?x=1');
    expect(origin.requests).toHaveLength(1);
  });

  it('one stored redirect is served to clients that used different ports, each with its own', async () => {
    const origin = await startScriptedOrigin();
    origin.answers.set('/moved', {
      status: 301,
      headers: { location: `${origin.url}/new`, 'cache-control': cacheable },
    });
    const edge = await startNewsEdge(origin);
    // A trusted proxy that names the public host (without port) in X-Forwarded-Host.
    const viaPort = (port: number) =>
      get(edge, `news.example:${port}`, '/moved', { 'x-forwarded-host': 'news.example' });

    const first = await viaPort(8081);
    const second = await viaPort(8082);
    expect(first.headers.location).toBe('http://news.example:8081/new');
    expect(second.headers['cache-status']).toMatch(/^edge451; hit/);
    expect(second.headers.location).toBe('http://news.example:8082/new');
    expect(origin.requests).toHaveLength(1);
  });
});
