import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { GeoError } from '../errors.js';
import { normalizeIp } from '../ip/normalize-ip.js';
import { type ClientIpInput, createClientIpResolver } from './client-ip.js';
import { createTrustedPeerCheck, isTrustedPeer } from './trusted-proxies.js';

const trustedProxies = ['10.0.0.0/8', '2001:db8:ffff::/48', '192.0.2.10'];
const viaXff = createClientIpResolver({ trustedProxies, source: 'x-forwarded-for' });
const viaForwarded = createClientIpResolver({ trustedProxies, source: 'forwarded' });

const request = (peerAddress: string, ...headerLines: Array<[string, string]>): ClientIpInput => ({
  peerAddress,
  rawHeaders: headerLines.flat(),
});

describe('createClientIpResolver: trust', () => {
  test('ignores X-Forwarded-For from an untrusted peer', () => {
    expect(viaXff(request('203.0.113.9', ['X-Forwarded-For', '90.0.0.1']))).toEqual({
      ip: '203.0.113.9',
      from: 'socket',
      peerTrusted: false,
      peerIp: '203.0.113.9',
    });
  });

  test('ignores Forwarded from an untrusted peer, even one that claims to be a trusted proxy', () => {
    const result = viaForwarded(request('198.51.100.7', ['Forwarded', 'for=90.0.0.1, for=10.0.0.1']));
    expect(result).toEqual({
      ip: '198.51.100.7',
      from: 'socket',
      peerTrusted: false,
      peerIp: '198.51.100.7',
    });
  });

  test('takes the first untrusted address from the right, skipping trusted hops', () => {
    const result = viaXff(
      request('10.0.0.2', ['X-Forwarded-For', '90.0.0.1, 203.0.113.5, 10.9.9.9, 192.0.2.10']),
    );
    expect(result).toEqual({
      ip: '203.0.113.5',
      from: 'x-forwarded-for',
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
  });

  test('a client cannot hide behind a spoofed trusted address left of its own', () => {
    const result = viaXff(request('10.0.0.2', ['X-Forwarded-For', '10.1.1.1, 203.0.113.5']));
    expect(result.ip).toBe('203.0.113.5');
  });

  test('takes the leftmost hop when every hop is trusted', () => {
    const result = viaXff(request('10.0.0.2', ['X-Forwarded-For', '10.3.3.3, 10.4.4.4']));
    expect(result).toEqual({
      ip: '10.3.3.3',
      from: 'x-forwarded-for',
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
  });

  test('combines several header lines in order before walking (RFC 9110 §5.3)', () => {
    const result = viaXff(
      request(
        '10.0.0.2',
        ['X-Forwarded-For', '203.0.113.5'],
        ['Accept', '*/*'],
        ['x-forwarded-for', '10.7.7.7'],
      ),
    );
    expect(result.ip).toBe('203.0.113.5');
    const reversed = viaXff(
      request('10.0.0.2', ['X-Forwarded-For', '10.7.7.7'], ['X-FORWARDED-FOR', '203.0.113.5']),
    );
    expect(reversed.ip).toBe('203.0.113.5');
  });

  test('reads only the configured header', () => {
    const result = viaForwarded(request('10.0.0.2', ['X-Forwarded-For', '90.0.0.1']));
    expect(result).toEqual({ ip: '10.0.0.2', from: 'socket', peerTrusted: true, peerIp: '10.0.0.2' });
  });

  test('a trusted peer without forwarding header is the client', () => {
    const peerIsClient = { ip: '10.0.0.2', from: 'socket', peerTrusted: true, peerIp: '10.0.0.2' };
    expect(viaXff(request('10.0.0.2'))).toEqual(peerIsClient);
    expect(viaXff(request('10.0.0.2', ['X-Forwarded-For', ' , ']))).toEqual(peerIsClient);
  });
});

describe('createClientIpResolver: one resolver, many peers', () => {
  test('each request is answered for its own peer, whichever peer came before', () => {
    const resolver = createClientIpResolver({ trustedProxies, source: 'x-forwarded-for' });
    const forwarded = ['X-Forwarded-For', '90.0.0.1'] as [string, string];
    const sequence: Array<[string, string, boolean]> = [
      ['10.0.0.2', '90.0.0.1', true],
      ['10.0.0.2', '90.0.0.1', true],
      ['203.0.113.9', '203.0.113.9', false],
      ['::ffff:10.0.0.2', '90.0.0.1', true],
      ['', '', false],
      ['203.0.113.9', '203.0.113.9', false],
      ['10.0.0.2', '90.0.0.1', true],
    ];
    for (const [peerAddress, ip, peerTrusted] of sequence) {
      expect(resolver(request(peerAddress, forwarded))).toMatchObject({ ip, peerTrusted });
    }
  });
});

describe('createClientIpResolver: walks kept per forwarding line', () => {
  test('a line walked before gives the same answer, frozen; another peer or line is walked anew', () => {
    const resolver = createClientIpResolver({ trustedProxies, source: 'x-forwarded-for' });
    const line = (value: string) => ['X-Forwarded-For', value] as [string, string];
    const first = resolver(request('10.0.0.2', line('90.0.0.1, 10.0.0.7')));
    expect(first).toEqual({ ip: '90.0.0.1', from: 'x-forwarded-for', peerTrusted: true, peerIp: '10.0.0.2' });
    expect(Object.isFrozen(first)).toBe(true);
    expect(resolver(request('10.0.0.2', line('90.0.0.1, 10.0.0.7')))).toBe(first);
    // The peer is part of the answer: another trusted peer with the same line gets its own.
    expect(resolver(request('10.0.0.3', line('90.0.0.1, 10.0.0.7')))).toMatchObject({ peerIp: '10.0.0.3' });
    expect(resolver(request('10.0.0.2', line('90.0.0.2')))).toMatchObject({ ip: '90.0.0.2' });
    // Two lines are one list, walked together, never as the first line's kept walk.
    expect(resolver(request('10.0.0.2', line('90.0.0.1, 10.0.0.7'), line('203.0.113.5')))).toMatchObject({
      ip: '203.0.113.5',
    });
    expect(resolver(request('10.0.0.2', line('garbage')))).toMatchObject({ ip: '10.0.0.2', malformed: true });
    // More lines than are kept: each is still walked right.
    for (let n = 0; n < 1500; n++) {
      const ip = `90.0.${n >> 8}.${n & 255}`;
      expect(resolver(request('10.0.0.2', line(ip))).ip).toBe(ip);
    }
  });
});

describe('createClientIpResolver: addresses', () => {
  test('matches an IPv4-mapped peer against IPv4 networks and reports it as IPv4', () => {
    const result = viaXff(request('::ffff:10.0.0.2', ['X-Forwarded-For', '::ffff:90.0.0.1']));
    expect(result).toEqual({
      ip: '90.0.0.1',
      from: 'x-forwarded-for',
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
  });

  test('accepts IPv4-mapped networks in trustedProxies', () => {
    const resolver = createClientIpResolver({
      trustedProxies: ['::ffff:172.16.0.0/108'],
      source: 'x-forwarded-for',
    });
    expect(resolver(request('172.16.5.5', ['X-Forwarded-For', '90.0.0.1'])).ip).toBe('90.0.0.1');
    expect(resolver(request('::ffff:172.16.5.5', ['X-Forwarded-For', '90.0.0.1'])).ip).toBe('90.0.0.1');
  });

  test('trusts IPv6 proxies and normalises IPv6 clients with ports and brackets', () => {
    const result = viaXff(
      request('2001:DB8:FFFF::1', ['X-Forwarded-For', '[2A02:CFC0::0001]:4711, 2001:db8:ffff::2']),
    );
    expect(result).toEqual({
      ip: '2a02:cfc0::1',
      from: 'x-forwarded-for',
      peerTrusted: true,
      peerIp: '2001:db8:ffff::1',
    });
  });

  test("reads Forwarded's quoted, bracketed IPv6 with a port", () => {
    const result = viaForwarded(
      request('10.0.0.2', ['Forwarded', 'for="[2001:db8:cafe::17]:4711";proto=https']),
    );
    expect(result).toEqual({
      ip: '2001:db8:cafe::17',
      from: 'forwarded',
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
  });

  test('reads IPv4 with a port in X-Forwarded-For', () => {
    expect(viaXff(request('10.0.0.2', ['X-Forwarded-For', '90.0.0.1:51234'])).ip).toBe('90.0.0.1');
  });

  test('socket source: the peer, normalised, with trust reported for DECISIONS #8', () => {
    const resolver = createClientIpResolver({ trustedProxies: ['10.0.0.0/8'], source: 'socket' });
    expect(resolver(request('::ffff:10.0.0.2', ['X-Forwarded-For', '90.0.0.1']))).toEqual({
      ip: '10.0.0.2',
      from: 'socket',
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
    expect(resolver(request('2001:0db8::0001'))).toEqual({
      ip: '2001:db8::1',
      from: 'socket',
      peerTrusted: false,
      peerIp: '2001:db8::1',
    });
  });
});

describe('createClientIpResolver: malformed forwarding information', () => {
  test.each([
    ['garbage between hops', 'X-Forwarded-For', '90.0.0.1, not-an-ip, 10.0.0.3'],
    ['an out-of-range port', 'X-Forwarded-For', '90.0.0.1:99999'],
    ['unknown', 'X-Forwarded-For', 'unknown'],
    ['a hop with a leading-zero octet', 'X-Forwarded-For', '090.0.0.1'],
  ])('%s stops the walk: peer address, flagged malformed', (_name, header, value) => {
    expect(viaXff(request('10.0.0.2', [header, value]))).toEqual({
      ip: '10.0.0.2',
      from: 'socket',
      malformed: true,
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
  });

  test.each([
    ['for=unknown'],
    ['for=_hidden'],
    ['for=2001:db8::1'],
    ['proto=https'],
    ['for="[2001:db8::1]'],
    ['for=90.0.0.1, for=_hidden'],
  ])('Forwarded %j stops the walk: peer address, flagged malformed', (value) => {
    expect(viaForwarded(request('10.0.0.2', ['Forwarded', value]))).toEqual({
      ip: '10.0.0.2',
      from: 'socket',
      malformed: true,
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
  });

  test('garbage left of the client is never looked at', () => {
    const result = viaForwarded(
      request('10.0.0.2', ['Forwarded', 'for=_hidden, for=garbage!!, for=90.0.0.1']),
    );
    expect(result).toEqual({ ip: '90.0.0.1', from: 'forwarded', peerTrusted: true, peerIp: '10.0.0.2' });
  });

  test('a peer that is not an address (closed socket) is reported as malformed and untrusted', () => {
    const noAddress = { ip: '', from: 'socket', malformed: true, peerTrusted: false, peerIp: '' };
    expect(viaXff(request(''))).toEqual(noAddress);
    expect(viaXff({ peerAddress: undefined as unknown as string, rawHeaders: [] })).toEqual(noAddress);
  });

  test('inputs of the wrong type do not throw', () => {
    const result = viaXff({ peerAddress: '10.0.0.2', rawHeaders: undefined as unknown as string[] });
    expect(result).toEqual({
      ip: '10.0.0.2',
      from: 'socket',
      malformed: true,
      peerTrusted: false,
      peerIp: '10.0.0.2',
    });
  });

  test('garbage header values never throw and always yield a valid, normalised IP', () => {
    const pieces = fc.constantFrom(
      '90.0.0.1',
      '10.0.0.5',
      '[2001:db8::1]',
      '2001:db8:ffff::9',
      '::ffff:10.1.1.1',
      ':80',
      ':_x',
      'for=',
      'For=',
      '"',
      '\\',
      ';',
      ',',
      ' ',
      '[',
      ']',
      'unknown',
      '_hidden',
      '%eth0',
      'proto=http',
    );
    const headerValue = fc.oneof(
      fc.string(),
      fc.array(pieces, { maxLength: 25 }).map((parts) => parts.join('')),
    );
    const peer = fc.constantFrom('10.0.0.2', '::ffff:10.0.0.2', '2001:db8:ffff::1', '203.0.113.9');
    fc.assert(
      fc.property(
        peer,
        fc.array(fc.tuple(fc.constantFrom('X-Forwarded-For', 'Forwarded'), headerValue), { maxLength: 4 }),
        (peerAddress, lines) => {
          for (const resolver of [viaXff, viaForwarded]) {
            const result = resolver(request(peerAddress, ...lines));
            expect(isIP(result.ip)).not.toBe(0);
            expect(result.ip).not.toMatch(/^::ffff:|[A-F%[\]]/);
            expect(result.peerIp).toBe(normalizeIp(peerAddress));
          }
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe('createClientIpResolver: PROXY protocol source', () => {
  const viaProxy = createClientIpResolver({ trustedProxies: ['10.0.0.0/8'], source: 'proxy-protocol' });

  test('uses the PROXY source address from a trusted peer', () => {
    const result = viaProxy({
      peerAddress: '10.0.0.2',
      rawHeaders: [],
      proxyProtocolAddress: '::ffff:90.0.0.1',
    });
    expect(result).toEqual({ ip: '90.0.0.1', from: 'proxy-protocol', peerTrusted: true, peerIp: '10.0.0.2' });
  });

  test('ignores a PROXY address and headers from an untrusted peer', () => {
    const result = viaProxy({
      peerAddress: '203.0.113.9',
      rawHeaders: ['X-Forwarded-For', '90.0.0.1'],
      proxyProtocolAddress: '90.0.0.1',
    });
    expect(result).toEqual({ ip: '203.0.113.9', from: 'socket', peerTrusted: false, peerIp: '203.0.113.9' });
  });

  test('uses the peer when the trusted proxy sent LOCAL, and flags a bad address', () => {
    expect(viaProxy({ peerAddress: '10.0.0.2', rawHeaders: [] })).toEqual({
      ip: '10.0.0.2',
      from: 'socket',
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
    expect(viaProxy({ peerAddress: '10.0.0.2', rawHeaders: [], proxyProtocolAddress: 'nope' })).toEqual({
      ip: '10.0.0.2',
      from: 'socket',
      malformed: true,
      peerTrusted: true,
      peerIp: '10.0.0.2',
    });
  });
});

describe('createClientIpResolver: configuration', () => {
  test('reports every bad entry at once', () => {
    const build = () =>
      createClientIpResolver({
        trustedProxies: ['10.0.0.1/8', 'proxy.internal', '0.0.0.0/0', '::/0'],
        source: 'x-real-ip' as 'socket',
      });
    expect(build).toThrow(GeoError);
    try {
      build();
    } catch (error) {
      expect((error as GeoError).code).toBe('GEO_CONFIG_INVALID');
      expect((error as GeoError).message).toMatchInlineSnapshot(`
        "invalid client IP configuration:
          - trustedProxies[0] ("10.0.0.1/8"): has host bits set after the prefix (did you mean 10.0.0.0/8?)
          - trustedProxies[1] ("proxy.internal"): 'proxy.internal' is not an IPv4 or IPv6 address
          - trustedProxies[2] ("0.0.0.0/0"): trusts every address, so any client could spoof its address and country
          - trustedProxies[3] ("::/0"): trusts every address, so any client could spoof its address and country
          - source must be 'socket', 'x-forwarded-for', 'forwarded' or 'proxy-protocol', not "x-real-ip""
      `);
    }
  });

  test('refuses a header source with no trusted proxy, which would silently never apply', () => {
    expect(() => createClientIpResolver({ trustedProxies: [], source: 'forwarded' })).toThrow(
      "source 'forwarded' is only believed from trustedProxies, which is empty: list your proxies",
    );
  });

  test('isTrustedPeer and createTrustedPeerCheck answer for any spelling of an address', () => {
    const check = createTrustedPeerCheck(['10.0.0.0/8', '2001:db8::/32']);
    expect(check('::ffff:10.2.3.4')).toBe(true);
    expect(check('2001:DB8::7')).toBe(true);
    expect(check('11.0.0.1')).toBe(false);
    expect(check('garbage')).toBe(false);
    expect(viaXff.isTrustedPeer('192.0.2.10')).toBe(true);
    expect(viaXff.isTrustedPeer('192.0.2.11')).toBe(false);
    expect(() => createTrustedPeerCheck(['nope'])).toThrow(GeoError);
  });

  test('isTrustedPeer answers per connection without throwing, trusting no invalid entry', () => {
    const list = ['10.0.0.0/8', 'not-a-network', '0.0.0.0/0'];
    expect(isTrustedPeer('::ffff:10.9.8.7', list)).toBe(true);
    expect(isTrustedPeer('203.0.113.1', list)).toBe(false);
    expect(isTrustedPeer(undefined as unknown as string, list)).toBe(false);
    list.push('203.0.113.0/24');
    expect(isTrustedPeer('203.0.113.1', list)).toBe(true);
  });
});
