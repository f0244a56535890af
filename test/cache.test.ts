import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { clientIps, forwardedClientIp, motogpOrder } from './support/blocking-order.js';
import { adminToken, type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { type SimpleResponse, send, sendRaw, statusOf } from './support/http.js';
import { startOrigin, type TestOrigin } from './support/origin.js';

// The cache of the real binary (issue 5), shaped like varnishtests: a scripted origin whose headers each
// test controls, the edge with its config, clients placed in a country through X-Forwarded-For from the
// trusted loopback peer, and assertions on responses *and* on how many requests reached the origin (a hit
// is proven by the origin's count staying put, not by the edge's word for it).

const siteHosts = [
  'news.example',
  '*.news.example',
  'sport.example',
  '*.sport.example',
  'livetv.example',
  '*.livetv.example',
  'mirror.example',
  ...motogpOrder.hosts,
];
const cacheable = 'public, max-age=600';

type Headers = Record<string, string | string[]>;
type Answer = { status?: number; headers?: Headers; body?: string | Buffer };

/** An origin handler from a function of the request: sets Content-Length, sends no body to HEAD. */
function answering(script: (req: IncomingMessage) => Answer) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const answer = script(req);
    const body = answer.body ?? `origin says hello to ${req.url}\n`;
    res.writeHead(answer.status ?? 200, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(body),
      ...answer.headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** An origin whose every answer is cacheable for ten minutes and names the path it was asked for. */
function startCacheableOrigin(headers: Headers = {}): Promise<TestOrigin> {
  return startOrigin(answering(() => ({ headers: { 'cache-control': cacheable, ...headers } })));
}

/** The edge in front of `origin` with the Paris MotoGP order; `overrides` replace top-level config keys. */
function startCachingEdge(
  origin: TestOrigin,
  overrides: Record<string, unknown> = {},
  site: Record<string, unknown> = {},
): Promise<RunningEdge> {
  return startEdge(
    testConfig({
      clientIp: forwardedClientIp,
      sites: [{ name: 'streams', hosts: siteHosts, origin: origin.url, ...site }],
      policy: { files: ['policy.yaml'] },
      ...overrides,
    }),
    { 'policy.yaml': { orders: [motogpOrder] } },
  );
}

/** GET (or `method`) `path` on `host` through the edge, as a client at `ip` (GB unless told). */
function get(
  edge: RunningEdge,
  host: string,
  path: string,
  options: { ip?: string; method?: string; headers?: Record<string, string> } = {},
): Promise<SimpleResponse> {
  return send(`${edge.url}${path}`, {
    method: options.method ?? 'GET',
    headers: { host, 'x-forwarded-for': options.ip ?? clientIps.GB, ...options.headers },
  });
}

function cacheStatusOf(response: SimpleResponse): string {
  return String(response.headers['cache-status'] ?? '');
}

/** How many requests for `path` reached the origin. */
function originCount(origin: TestOrigin, path: string): number {
  return origin.requests.filter((recorded) => recorded.url === path).length;
}

type AdminAnswer = { status: number; headers: SimpleResponse['headers']; json: Record<string, unknown> };

/** One admin API call with the compliance token (`token: null` sends none). */
async function admin(
  edge: RunningEdge,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = adminToken,
): Promise<AdminAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await send(`${edge.adminUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, headers: response.headers, json: JSON.parse(response.body) };
}

/** Applies a policy change and waits until the edge has purged what it newly blocks. */
async function changeAndAwaitPurge(
  edge: RunningEdge,
  method: string,
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const answer = await admin(edge, method, path, body);
  expect(answer.status).toBe(200);
  return edge.waitForLog(
    (line) => line.msg === 'purged newly blocked hosts' && line.policy_version === answer.json.version,
  );
}

function newOrder(hosts: string[], extra: Record<string, unknown> = {}) {
  return {
    authority: 'Tribunal judiciaire de Paris',
    reference: 'RG 25/00077',
    countries: ['FR'],
    hosts,
    ...extra,
  };
}

describe('hits', () => {
  it('a cacheable response is served from cache on the second request, with Age and Cache-Status hit', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);

    const first = await get(edge, 'news.example', '/story');
    expect(first.status).toBe(200);
    expect(cacheStatusOf(first)).toBe('edge451; fwd=uri-miss; fwd-status=200; stored; ttl=600');

    const second = await get(edge, 'news.example', '/story');
    expect(second.status).toBe(200);
    expect(second.body).toBe(first.body);
    expect(cacheStatusOf(second)).toMatch(/^edge451; hit; ttl=(599|600)$/);
    expect(second.headers.age).toMatch(/^\d+$/);
    expect(origin.requests).toHaveLength(1);
  });

  it('client Cache-Control: no-cache and Pragma do not force an origin request for everybody', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);
    await get(edge, 'news.example', '/story');
    const forced = await get(edge, 'news.example', '/story', {
      headers: { 'cache-control': 'no-cache, max-age=0', pragma: 'no-cache' },
    });
    expect(cacheStatusOf(forced)).toMatch(/^edge451; hit/);
    expect(origin.requests).toHaveLength(1);
  });
});

describe('the decision comes before the cache', () => {
  it('blocked country gets 451 even when an allowed client filled the cache', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);

    const filled = await get(edge, 'motogpstream.me', '/live', { ip: clientIps.GB });
    expect(filled.status).toBe(200);
    expect(cacheStatusOf(await get(edge, 'motogpstream.me', '/live', { ip: clientIps.US }))).toMatch(
      /^edge451; hit/,
    );

    // However the blocked client asks: another spelling of the host, HEAD, or a validator it hopes matches.
    const attempts: Array<{ host: string; method?: string; headers?: Record<string, string> }> = [
      { host: 'motogpstream.me' },
      { host: 'MotoGPStream.ME.' },
      { host: 'motogpstream.me:80' },
      { host: 'motogpstream.me', method: 'HEAD' },
      { host: 'motogpstream.me', headers: { 'if-none-match': '*' } },
      { host: 'motogpstream.me', headers: { 'if-modified-since': new Date().toUTCString() } },
    ];
    for (const attempt of attempts) {
      const blocked = await get(edge, attempt.host, '/live', { ...attempt, ip: clientIps.FR });
      expect({ attempt, status: blocked.status }).toEqual({ attempt, status: 451 });
      expect(blocked.headers['cache-status']).toBeUndefined();
      expect(blocked.headers.age).toBeUndefined();
      expect(blocked.body).not.toContain('origin says hello');
    }
    expect(origin.requests).toHaveLength(1);
    const log = await edge.waitForLog((line) => line.msg === 'blocked');
    expect(log.cache_status).toBeUndefined();
  });

  it('a 451 is never cached: once the host is lifted, the client that was blocked gets the origin’s 200', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);
    const blocked = await get(edge, 'livetv821.me', '/match', { ip: clientIps.FR });
    expect(blocked.status).toBe(451);
    expect(blocked.headers['cache-control']).toBe('no-store');
    // An allowed client is not served the 451 either.
    const allowed = await get(edge, 'livetv821.me', '/match', { ip: clientIps.GB });
    expect(allowed.status).toBe(200);
    expect(cacheStatusOf(allowed)).toMatch(/^edge451; fwd=uri-miss; fwd-status=200; stored/);
    expect(origin.requests).toHaveLength(1);

    const lifted = await admin(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/livetv821.me`);
    expect(lifted.status).toBe(200);
    const afterLift = await get(edge, 'livetv821.me', '/match', { ip: clientIps.FR });
    expect(afterLift.status).toBe(200);
    expect(afterLift.body).toBe('origin says hello to /match\n');
    // A URL only the blocked client ever asked for: its 451 left nothing behind.
    const neverFilled = await get(edge, 'motogpstream.me', '/only-fr', { ip: clientIps.FR });
    expect(neverFilled.status).toBe(451);
    await admin(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/motogpstream.me`);
    const firstServed = await get(edge, 'motogpstream.me', '/only-fr', { ip: clientIps.FR });
    expect(firstServed.status).toBe(200);
    expect(cacheStatusOf(firstServed)).toMatch(/^edge451; fwd=uri-miss; fwd-status=200; stored/);
    expect(originCount(origin, '/only-fr')).toBe(1);
  });
});

describe('purge when a host starts being blocked', () => {
  it('an order (PUT /orders/{id}) purges the entries of the hosts it starts blocking, and only those', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);
    for (const path of ['/a', '/b?page=2']) await get(edge, 'news.example', path);
    await get(edge, 'sport.example', '/a');
    expect(origin.requests).toHaveLength(3);

    const purged = await changeAndAwaitPurge(edge, 'PUT', '/orders/fr-2025-news', newOrder(['news.example']));
    expect(purged).toMatchObject({ patterns: ['news.example'], purged: 2 });

    const again = await get(edge, 'news.example', '/a');
    expect(cacheStatusOf(again)).toMatch(/^edge451; fwd=uri-miss/);
    expect(originCount(origin, '/a')).toBe(3);
    expect(cacheStatusOf(await get(edge, 'news.example', '/b?page=2'))).toMatch(/^edge451; fwd=uri-miss/);
    expect(cacheStatusOf(await get(edge, 'sport.example', '/a'))).toMatch(/^edge451; hit/);
    expect(origin.requests).toHaveLength(5);
  });

  it('an ARCOM notification purges the new mirror host', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);
    await get(edge, 'mirror.example', '/live');
    expect(cacheStatusOf(await get(edge, 'mirror.example', '/live'))).toMatch(/^edge451; hit/);

    const purged = await changeAndAwaitPurge(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      hosts: ['mirror.example'],
      notifiedBy: 'ARCOM',
      reference: 'ARCOM notification 2025-04-02 n°7',
    });
    expect(purged).toMatchObject({ patterns: ['mirror.example'], purged: 1 });
    expect((await get(edge, 'mirror.example', '/live', { ip: clientIps.FR })).status).toBe(451);
    expect(cacheStatusOf(await get(edge, 'mirror.example', '/live'))).toMatch(/^edge451; fwd=uri-miss/);
    expect(originCount(origin, '/live')).toBe(2);
  });

  it('a *.example wildcard purges every subdomain entry at any depth, not the parent host', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);
    for (const host of ['a.livetv.example', 'a.b.livetv.example', 'livetv.example'])
      await get(edge, host, '/x');
    expect(origin.requests).toHaveLength(3);

    const purged = await changeAndAwaitPurge(edge, 'PUT', '/orders/fr-2025-livetv', newOrder(['*.livetv.example']));
    expect(purged).toMatchObject({ patterns: ['*.livetv.example'], purged: 2 });
    expect(cacheStatusOf(await get(edge, 'a.livetv.example', '/x'))).toMatch(/^edge451; fwd=uri-miss/);
    expect(cacheStatusOf(await get(edge, 'a.b.livetv.example', '/x'))).toMatch(/^edge451; fwd=uri-miss/);
    expect(cacheStatusOf(await get(edge, 'livetv.example', '/x'))).toMatch(/^edge451; hit/);
    expect(origin.requests).toHaveLength(5);
  });

  it('includeSubdomains purges the host and its subdomains', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);
    for (const host of ['sport.example', 'live.sport.example', 'news.example']) await get(edge, host, '/x');

    const purged = await changeAndAwaitPurge(
      edge,
      'PUT',
      '/orders/fr-2025-sport',
      newOrder(['sport.example'], { includeSubdomains: true }),
    );
    expect(purged).toMatchObject({ patterns: ['*.sport.example', 'sport.example'], purged: 2 });
    expect(cacheStatusOf(await get(edge, 'sport.example', '/x'))).toMatch(/^edge451; fwd=uri-miss/);
    expect(cacheStatusOf(await get(edge, 'live.sport.example', '/x'))).toMatch(/^edge451; fwd=uri-miss/);
    expect(cacheStatusOf(await get(edge, 'news.example', '/x'))).toMatch(/^edge451; hit/);
  });

  it('an order with purgeCache: false keeps the entries of the hosts it blocks', async () => {
    const origin = await startCacheableOrigin();
    const edge = await startCachingEdge(origin);
    await get(edge, 'news.example', '/kept');
    await get(edge, 'sport.example', '/gone');

    const kept = await admin(edge, 'PUT', '/orders/fr-2025-news', newOrder(['news.example'], { purgeCache: false }));
    expect(kept.status).toBe(200);
    // Purges run in policy order: once this later order's purge is logged, the first one had its chance.
    const purged = await changeAndAwaitPurge(edge, 'PUT', '/orders/fr-2025-sport', newOrder(['sport.example']));
    expect(purged).toMatchObject({ patterns: ['sport.example'], purged: 1 });
    expect(
      edge.logs().filter((line) => line.msg === 'purged newly blocked hosts' && line.policy_version === kept.json.version),
    ).toEqual([]);

    expect((await get(edge, 'news.example', '/kept', { ip: clientIps.FR })).status).toBe(451);
    expect(cacheStatusOf(await get(edge, 'news.example', '/kept'))).toMatch(/^edge451; hit/);
    expect(cacheStatusOf(await get(edge, 'sport.example', '/gone'))).toMatch(/^edge451; fwd=uri-miss/);
  });
});

describe('cache poisoning', () => {
  // Request fields that could make an origin (or a framework in front of it) build another page than the
  // URL says. The origin reflects each of them into a cacheable body: if one reached it unkeyed, whoever
  // sent it would choose what everybody else is served.
  const reflected = [
    'host',
    'x-forwarded-host',
    'x-forwarded-proto',
    'forwarded',
    'x-original-url',
    'x-rewrite-url',
    'x-forwarded-scheme',
    'x-http-method-override',
  ] as const;

  function startReflectingOrigin(): Promise<TestOrigin> {
    return startOrigin(
      answering((req) => {
        const seen: Record<string, unknown> = { method: req.method, url: req.url };
        for (const name of reflected) if (req.headers[name] !== undefined) seen[name] = req.headers[name];
        return {
          headers: { 'cache-control': cacheable, 'content-type': 'application/json' },
          body: JSON.stringify(seen),
        };
      }),
    );
  }

  /** What the origin reflects for a clean GET of `path` on `host` (the site preserves the client's host). */
  function cleanBody(host: string, path: string) {
    return {
      method: 'GET',
      url: path,
      host,
      'x-forwarded-host': host,
      'x-forwarded-proto': 'http',
    };
  }

  // The peer (loopback) is not a trusted proxy here: every forwarding header the client sends is its own claim.
  const untrusted = { clientIp: { source: 'socket', trustedProxies: [] } };

  /** A raw HTTP/1.1 request for the edge; `lines` are header lines after the request line. */
  function rawRequest(target: string, lines: string[]): string {
    return `GET ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`;
  }

  const attacks: Array<[string, (edge: RunningEdge) => Promise<number>]> = [
    ...(
      [
        ['X-Forwarded-Host', { 'x-forwarded-host': 'evil.example' }],
        ['X-Forwarded-Proto', { 'x-forwarded-proto': 'https' }],
        ['Forwarded host= and proto=', { forwarded: 'for=1.2.3.4;host=evil.example;proto=https' }],
        ['X-Original-URL', { 'x-original-url': '/admin' }],
        ['X-Rewrite-URL', { 'x-rewrite-url': '/admin' }],
        ['X-Forwarded-Scheme', { 'x-forwarded-scheme': 'nothttps' }],
        ['X-HTTP-Method-Override', { 'x-http-method-override': 'DELETE' }],
        ['Host with a port', { host: 'news.example:80' }],
        ['Host with a trailing dot', { host: 'news.example.' }],
        ['Host in upper case', { host: 'NEWS.Example' }],
      ] as const
    ).map(([name, headers]): [string, (edge: RunningEdge) => Promise<number>] => [
      name,
      async (edge) =>
        (await send(`${edge.url}/page`, { headers: { host: 'news.example', ...headers } })).status,
    ]),
    [
      'a second Host header',
      async (edge) =>
        statusOf(await sendRaw(edge.url, rawRequest('/page', ['Host: news.example', 'Host: evil.example']))),
    ],
    [
      'an absolute-form target naming another site',
      async (edge) =>
        statusOf(await sendRaw(edge.url, rawRequest('http://sport.example/page', ['Host: news.example']))),
    ],
  ];

  it.each(attacks)('%s from an untrusted peer does not change what the next client is served', async (_name, attack) => {
    const origin = await startReflectingOrigin();
    const edge = await startCachingEdge(origin, untrusted, { preserveHost: true });

    expect([200, 400]).toContain(await attack(edge));
    const clean = await send(`${edge.url}/page`, { headers: { host: 'news.example' } });
    expect(clean.status).toBe(200);
    expect(JSON.parse(clean.body)).toEqual(cleanBody('news.example', '/page'));
    // And the override headers never reached the origin at all on a cacheable request.
    for (const recorded of origin.requests) {
      for (const name of ['x-original-url', 'x-rewrite-url', 'x-forwarded-scheme', 'x-http-method-override', 'forwarded'])
        expect(recorded.headers[name]).toBeUndefined();
      expect(recorded.method).toBe('GET');
      expect(recorded.url).toBe('/page');
    }
  });

  it.each([
    ['X-Forwarded-Host', { 'x-forwarded-host': 'evil.example' }],
    ['X-Forwarded-Proto', { 'x-forwarded-proto': 'https' }],
    ['X-Original-URL', { 'x-original-url': '/admin' }],
  ] as const)('%s from a trusted proxy only selects its own variant', async (_name, headers) => {
    const origin = await startReflectingOrigin();
    const edge = await startCachingEdge(origin, {}, { preserveHost: true });

    const attacker = await get(edge, 'news.example', '/page', { headers });
    expect(attacker.status).toBe(200);
    const clean = await get(edge, 'news.example', '/page');
    expect(JSON.parse(clean.body)).toEqual(cleanBody('news.example', '/page'));
    // The clean variant is then a hit for the next clean client.
    const next = await get(edge, 'news.example', '/page');
    expect(cacheStatusOf(next)).toMatch(/^edge451; hit/);
    expect(JSON.parse(next.body)).toEqual(cleanBody('news.example', '/page'));
  });

  it('the key includes the normalised host: two sites with the same path never share an entry (unlike nginx’s default key)', async () => {
    const origin = await startReflectingOrigin();
    const edge = await startCachingEdge(origin, {}, { preserveHost: true });
    // The same X-Forwarded-Host from the trusted proxy for both, so only the key's host can tell them apart.
    const headers = { 'x-forwarded-host': 'shared.example' };

    const news = await get(edge, 'news.example', '/same', { headers });
    const sport = await get(edge, 'sport.example', '/same', { headers });
    expect(JSON.parse(news.body)).toMatchObject({ host: 'news.example' });
    expect(JSON.parse(sport.body)).toMatchObject({ host: 'sport.example' });
    expect(cacheStatusOf(sport)).toMatch(/^edge451; fwd=uri-miss/);

    const newsAgain = await get(edge, 'news.example', '/same', { headers });
    const sportAgain = await get(edge, 'sport.example', '/same', { headers });
    expect(JSON.parse(newsAgain.body)).toMatchObject({ host: 'news.example' });
    expect(JSON.parse(sportAgain.body)).toMatchObject({ host: 'sport.example' });
    expect(cacheStatusOf(newsAgain)).toMatch(/^edge451; hit/);
    expect(cacheStatusOf(sportAgain)).toMatch(/^edge451; hit/);
    expect(origin.requests).toHaveLength(2);
  });

  it('one host however it is written shares the normalised key, and each spelling still gets its own Host back', async () => {
    const origin = await startReflectingOrigin();
    const edge = await startCachingEdge(origin, untrusted, { preserveHost: true });
    const spellings = ['news.example', 'NEWS.Example', 'news.example.', 'news.example:80'];
    for (const host of spellings) {
      const response = await send(`${edge.url}/page`, { headers: { host } });
      // The origin always sees the normalised host; X-Forwarded-Host is the authority the client used.
      expect(JSON.parse(response.body)).toEqual({ ...cleanBody('news.example', '/page'), 'x-forwarded-host': host });
    }
  });
});
