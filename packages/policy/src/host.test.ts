import { domainToASCII, domainToUnicode } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeHost } from './host.js';

const host = (input: string) => normalizeHost(input);
const name = (value: string) => ({ ok: true, host: value, kind: 'name' });

describe('normalizeHost', () => {
  it.each([
    ['MotoGPStream.ME.', 'motogpstream.me'],
    ['motogpstream.me:443', 'motogpstream.me'],
    ['MOTOGPSTREAM.ME.:8443', 'motogpstream.me'],
    ['motogpstream.me:', 'motogpstream.me'],
    ['motogpstream.me:65535', 'motogpstream.me'],
    ['motogpstream.me:00443', 'motogpstream.me'],
    ['xn.--a.example', 'xn.--a.example'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['a-b--c.example', 'a-b--c.example'],
    ['localhost', 'localhost'],
  ])('normalises %j to %j', (input, expected) => {
    expect(host(input)).toEqual(name(expected));
  });

  it('converts a Unicode name to its punycode A-labels, and accepts the A-labels unchanged', () => {
    expect(host('Bücher.example')).toEqual(name('xn--bcher-kva.example'));
    expect(host('xn--bcher-kva.example')).toEqual(name('xn--bcher-kva.example'));
    expect(domainToUnicode('xn--bcher-kva.example')).toBe('bücher.example');
  });

  it('maps what UTS #46 maps: full-width letters, ideographic full stops, soft hyphens, ß (non-transitional)', () => {
    expect(host('ｍotogpstream。me')).toEqual(name('motogpstream.me'));
    expect(host('motogp\u00adstream.me')).toEqual(name('motogpstream.me'));
    expect(host('faß.de')).toEqual(name('xn--fa-hia.de'));
  });

  it('strips exactly one trailing dot, whichever full stop it is written with', () => {
    expect(host('example.com.')).toEqual(name('example.com'));
    expect(host('example.com。')).toEqual(name('example.com'));
    expect(host('example.com..')).toEqual({ ok: false, reason: 'host has an empty label' });
    expect(host('example.com.。')).toEqual({ ok: false, reason: 'host has an empty label' });
  });

  it('reports IPv4 literals, in the dotted-quad form browsers use', () => {
    expect(host('127.0.0.1:8080')).toEqual({ ok: true, host: '127.0.0.1', kind: 'ipv4' });
    expect(host('127.1')).toEqual({ ok: true, host: '127.0.0.1', kind: 'ipv4' });
    expect(host('0x7f000001')).toEqual({ ok: true, host: '127.0.0.1', kind: 'ipv4' });
    expect(host('1.2.3.4.')).toEqual({ ok: true, host: '1.2.3.4', kind: 'ipv4' });
  });

  it('reports IPv6 literals without brackets, in RFC 5952 form, with or without a port', () => {
    expect(host('[::1]')).toEqual({ ok: true, host: '::1', kind: 'ipv6' });
    expect(host('[2001:DB8:0:0:0:0:0:1]:443')).toEqual({ ok: true, host: '2001:db8::1', kind: 'ipv6' });
    expect(host('2001:db8::1')).toEqual({ ok: true, host: '2001:db8::1', kind: 'ipv6' });
  });

  it('keeps an IPv4-mapped IPv6 literal as IPv6, written with a dotted quad (RFC 5952 §5)', () => {
    expect(host('[::ffff:1.2.3.4]')).toEqual({ ok: true, host: '::ffff:1.2.3.4', kind: 'ipv6' });
    expect(host('[::FFFF:0102:0304]:80')).toEqual({ ok: true, host: '::ffff:1.2.3.4', kind: 'ipv6' });
  });

  it.each([
    ['', 'host is empty'],
    ['.', 'host is empty'],
    ['a..b', 'host has an empty label'],
    ['.example.com', 'host has an empty label'],
    ['user@example.com', 'host contains userinfo ("@")'],
    ['example.com/path', 'host contains a slash'],
    ['example.com\\path', 'host contains a slash'],
    ['example.com?x', 'host contains a query or fragment character'],
    ['exa mple.com', 'host contains whitespace'],
    ['example.com\t', 'host contains a control character'],
    ['example.com\u0000', 'host contains a control character'],
    ['motogpstream%2eme', 'host contains percent-encoding or an IPv6 zone'],
    ['[fe80::1%25eth0]', 'host contains percent-encoding or an IPv6 zone'],
    ['example.com:99999', 'host has an invalid port'],
    ['example.com:80a', 'host has an invalid port'],
    ['example.com:123456', 'host has an invalid port'],
    ['example.com:1234567', 'host has an invalid port'],
    ['example.com:65536', 'host has an invalid port'],
    ['[::1', 'host has "[" without "]"'],
    ['[::1]x', 'host has an invalid port'],
    ['[not-v6]', 'host has an invalid IPv6 literal'],
    ['a:b:c', 'host is not a valid IPv6 literal (write it in brackets)'],
    ['*.example.com', 'host contains "*"'],
    ['exa!mple.com', 'host contains "!"'],
    ['example.123', 'host is not a valid internationalised domain name'],
    ['xn--zz.example', 'host is not a valid internationalised domain name'],
    [`${'a'.repeat(64)}.example`, 'host has a label longer than 63 octets'],
    [`${'a.'.repeat(127)}aa`, 'host is longer than 253 octets'],
    ['a'.repeat(1025), 'host is longer than 1024 characters'],
  ])('refuses %j: %s', (input, reason) => {
    expect(host(input)).toEqual({ ok: false, reason });
  });

  it('accepts names of exactly 63-octet labels and 253 octets', () => {
    const longest = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(longest).toHaveLength(253);
    expect(host(longest)).toEqual(name(longest));
    expect(host(`${longest}.`)).toEqual(name(longest));
  });

  it('never throws, whatever it is given', () => {
    for (const value of [undefined, null, 42, {}, [], Symbol('x')]) {
      expect(normalizeHost(value as unknown as string)).toEqual({
        ok: false,
        reason: 'host is not a string',
      });
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (input) => {
        const result = normalizeHost(input);
        return result.ok ? result.host.length > 0 : result.reason.length > 0;
      }),
      { numRuns: 2000 },
    );
  });
});

/** The slow path alone: what the fast ASCII path must agree with. */
function referenceNormalize(input: string): string | undefined {
  const port = /^(.*?)(?::(\d{0,5}))?$/.exec(input);
  const raw = port?.[1] ?? input;
  if (port?.[2] !== undefined && Number(port[2]) > 65535) return undefined;
  if (raw.includes(':')) return undefined;
  const ascii = domainToASCII(raw.endsWith('.') ? raw.slice(0, -1) : raw);
  if (ascii === '' || ascii.length > 253 || /^[\d.]+$/.test(ascii)) return undefined;
  return ascii.split('.').every((label) => /^[a-z0-9_-]{1,63}$/.test(label)) ? ascii : undefined;
}

describe('normalizeHost properties', () => {
  const label = fc.stringMatching(/^[a-zA-Z0-9_-]{1,12}$/);
  const asciiHost = fc
    .tuple(
      fc.array(fc.oneof(label, fc.constantFrom('xn--bcher-kva', 'XN--zz', '0x1f', '123', '')), {
        minLength: 1,
        maxLength: 5,
      }),
      fc.constantFrom('', '.', '..'),
      fc.constantFrom('', ':', ':443', ':65536', ':x'),
    )
    .map(([labels, dot, port]) => `${labels.join('.')}${dot}${port}`);

  it('the fast ASCII path gives what the domainToASCII path gives', () => {
    fc.assert(
      fc.property(asciiHost, (input) => {
        const result = normalizeHost(input);
        const expected = referenceNormalize(input);
        if (expected === undefined) return !result.ok || result.kind !== 'name';
        return result.ok && result.host === expected;
      }),
      { numRuns: 5000 },
    );
  });

  it('is idempotent: a normalised host normalises to itself', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          asciiHost,
          fc.domain(),
          fc.webUrl().map((url) => new URL(url).host),
        ),
        (input) => {
          const first = normalizeHost(input);
          if (!first.ok) return true;
          const second = normalizeHost(first.host);
          return second.ok && second.host === first.host && second.kind === first.kind;
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('round-trips Unicode: the Unicode form of a normalised name normalises back to it', () => {
    const unicodeLabel = fc.stringMatching(/^[a-zà-öø-ÿα-ω一-龥]{1,10}$/);
    fc.assert(
      fc.property(fc.array(unicodeLabel, { minLength: 2, maxLength: 4 }), (labels) => {
        const first = normalizeHost(labels.join('.'));
        if (!first.ok) return true;
        const again = normalizeHost(domainToUnicode(first.host));
        return again.ok && again.host === first.host;
      }),
      { numRuns: 2000 },
    );
  });
});
