import { describe, expect, it } from 'vitest';
import { startEdge, testConfig } from './support/edge.js';
import { send, sendRaw, statusOf } from './support/http.js';
import { startOrigin } from './support/origin.js';

// Clients are placed in a country through X-Forwarded-For from the trusted loopback peer:
// 2a02:cfc0::1 is FR, 81.2.69.160 GB, 216.160.83.56 US in MaxMind's test database.
const FR = '2a02:cfc0::1';
const GB = '81.2.69.160';
const US = '216.160.83.56';

const policy = {
  orders: [
    {
      id: 'fr-2025-motogp',
      authority: 'Tribunal judiciaire de Paris',
      reference: 'RG 25/01234',
      url: 'https://example.org/decision.pdf',
      countries: ['FR'],
      hosts: ['motogpstream.me', '*.livetv.me'],
      includeSubdomains: false,
    },
    {
      id: 'gb-expired',
      authority: 'High Court',
      reference: 'HC-2020-1',
      countries: ['GB'],
      hosts: ['old.example'],
      from: '2020-01-01T00:00:00Z',
      until: '2021-01-01T00:00:00Z',
    },
  ],
};

async function edgeInFrontOf(originUrl: string, extra: Record<string, unknown> = {}) {
  return startEdge(
    testConfig({
      clientIp: { source: 'x-forwarded-for', trustedProxies: ['127.0.0.1/32'] },
      sites: [
        {
          name: 'pirates',
          hosts: ['motogpstream.me', '*.livetv.me', 'old.example', 'fine.example'],
          origin: originUrl,
        },
      ],
      policy: { files: ['policy.yaml'] },
      ...extra,
    }),
    { 'policy.yaml': policy },
  );
}

describe('block / allow matrix', () => {
  it.each([
    ['motogpstream.me', FR, 451],
    ['motogpstream.me', GB, 200],
    ['motogpstream.me', US, 200],
    ['MotoGPStream.ME.', FR, 451],
    ['motogpstream.me:80', FR, 451],
    ['a.livetv.me', FR, 451],
    ['a.b.livetv.me', FR, 451],
    ['fine.example', FR, 200],
    ['old.example', GB, 200],
  ])('%s from %s gets %i', async (host, ip, status) => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const response = await send(`${edge.url}/page`, { headers: { host, 'x-forwarded-for': ip } });
    expect(response.status).toBe(status);
    expect(origin.requests.length).toBe(status === 451 ? 0 : 1);
  });

  it('a blocked request never reaches the origin and is logged with order, host, country and client', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    await send(`${edge.url}/`, { headers: { host: 'motogpstream.me', 'x-forwarded-for': FR } });
    expect(origin.requests).toHaveLength(0);
    const line = await edge.waitForLog((entry) => entry.msg === 'blocked');
    expect(line).toMatchObject({
      order_id: 'fr-2025-motogp',
      host: 'motogpstream.me',
      country: 'FR',
      client_ip: FR,
    });
  });
});

describe('the 451 answer (RFC 7725)', () => {
  it('carries Link rel=blocked-by, no-store and an HTML body naming the order', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const response = await send(`${edge.url}/`, {
      headers: { host: 'motogpstream.me', 'x-forwarded-for': FR },
    });
    expect(response.status).toBe(451);
    expect(response.headers.link).toBe('<https://edge.example/legal>; rel="blocked-by"');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    for (const fact of [
      'fr-2025-motogp',
      'Tribunal judiciaire de Paris',
      'RG 25/01234',
      'motogpstream.me',
      'FR',
    ]) {
      expect(response.body).toContain(fact);
    }
  });

  it('answers JSON when the client prefers application/json', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const response = await send(`${edge.url}/`, {
      headers: { host: 'motogpstream.me', 'x-forwarded-for': FR, accept: 'application/json' },
    });
    expect(response.status).toBe(451);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(response.body)).toMatchObject({
      status: 451,
      host: 'motogpstream.me',
      country: 'FR',
      order: {
        id: 'fr-2025-motogp',
        authority: 'Tribunal judiciaire de Paris',
        reference: 'RG 25/01234',
        url: 'https://example.org/decision.pdf',
      },
      blockedBy: 'https://edge.example/legal',
    });
  });
});

describe('client identity cannot be spoofed', () => {
  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    const origin = await startOrigin();
    // Loopback is not trusted here, and loopback itself is placed in FR by an override.
    const edge = await edgeInFrontOf(origin.url, {
      clientIp: { source: 'x-forwarded-for', trustedProxies: ['10.0.0.0/8'] },
      geoip: { database: undefined, overrides: [{ cidr: '127.0.0.0/8', country: 'FR' }] },
    });
    const response = await send(`${edge.url}/`, {
      headers: { host: 'motogpstream.me', 'x-forwarded-for': US },
    });
    expect(response.status).toBe(451);
    const forwarded = await send(`${edge.url}/`, {
      headers: { host: 'fine.example', 'x-forwarded-for': US },
    });
    expect(forwarded.status).toBe(200);
    // The spoofed chain is replaced by what the edge saw.
    expect(origin.requests[0]?.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('the leftmost spoofed entry does not win over the real client appended by the trusted proxy', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const response = await send(`${edge.url}/`, {
      headers: { host: 'motogpstream.me', 'x-forwarded-for': `${US}, ${FR}` },
    });
    expect(response.status).toBe(451);
  });
});

describe('request target and Host handling', () => {
  it('an absolute-form target wins over the Host header', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const raw = await sendRaw(
      edge.url,
      `GET http://motogpstream.me/x HTTP/1.1\r\nHost: fine.example\r\nX-Forwarded-For: ${FR}\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(raw)).toBe(451);
    expect(origin.requests).toHaveLength(0);
  });

  it('several Host headers are a 400, whichever comes first', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    for (const [first, second] of [
      ['fine.example', 'motogpstream.me'],
      ['motogpstream.me', 'fine.example'],
    ]) {
      const raw = await sendRaw(
        edge.url,
        `GET / HTTP/1.1\r\nHost: ${first}\r\nhost: ${second}\r\nX-Forwarded-For: ${FR}\r\nConnection: close\r\n\r\n`,
      );
      expect(statusOf(raw)).toBe(400);
    }
    expect(origin.requests).toHaveLength(0);
  });

  it('HTTP/1.1 without Host is a 400', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const raw = await sendRaw(edge.url, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(statusOf(raw)).toBe(400);
  });

  it('a Host with non-ASCII bytes is a 400', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const request = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: '),
      Buffer.from('motogpstréam.me', 'utf8'),
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]);
    expect(statusOf(await sendRaw(edge.url, request))).toBe(400);
  });

  it('an authority no site serves is 421 Misdirected Request', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const response = await send(`${edge.url}/`, { headers: { host: 'unknown.example' } });
    expect(response.status).toBe(421);
  });

  it('CONNECT is refused with 405', async () => {
    const origin = await startOrigin();
    const edge = await edgeInFrontOf(origin.url);
    const raw = await sendRaw(
      edge.url,
      'CONNECT fine.example:443 HTTP/1.1\r\nHost: fine.example:443\r\n\r\n',
    );
    expect(statusOf(raw)).toBe(405);
  });
});
