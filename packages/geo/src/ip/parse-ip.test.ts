import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatIp, normalizeIp } from './normalize-ip.js';
import { loadIpBytes, ParsedIp, parseIpInto } from './parse-ip.js';

const parse = (text: string) => {
  const parsed = new ParsedIp();
  return { version: parseIpInto(text, parsed), parsed };
};

/** Strings built from the pieces IP addresses are made of, so that near-misses are frequent. */
const ipLikeText = fc
  .array(
    fc.constantFrom(
      '0',
      '1',
      '00',
      '01',
      '255',
      '256',
      '1234',
      'ffff',
      'FFFF',
      'abcd',
      'g',
      '12345',
      '.',
      ':',
      '::',
      '%',
      'eth0',
      ' ',
      '',
    ),
    { maxLength: 14 },
  )
  .map((pieces) => pieces.join(''));

const anyAddressText = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((v4) => `::ffff:${v4}`),
  fc.ipV6().map((v6) => `${v6}%eth0`),
  ipLikeText,
  fc.string(),
);

describe('parseIpInto', () => {
  test('accepts exactly the strings net.isIP accepts', () => {
    fc.assert(
      fc.property(anyAddressText, (text) => {
        expect(parse(text).version !== 0).toBe(isIP(text) !== 0);
      }),
      { numRuns: 20_000 },
    );
  });

  test('reads the same address as the WHATWG URL parser, IPv4-mapped addresses as IPv4', () => {
    // Reference: Node's URL parser (ipaddr.js is no reference: it reads `::1.2.3.4` as `::ffff:1.2.3.4`).
    const reference = (text: string) => {
      if (isIP(text) === 4) return text;
      const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
      const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
      if (mapped === null) return canonical;
      const [high, low] = [
        Number.parseInt(mapped[1] as string, 16),
        Number.parseInt(mapped[2] as string, 16),
      ];
      return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
    };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV4(),
          fc.ipV6(),
          fc.ipV4().map((v4) => `::ffff:${v4}`),
        ),
        (text) => {
          const { version, parsed } = parse(text);
          expect(version).not.toBe(0);
          expect(formatIp(parsed)).toBe(reference(text));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  test.each([
    ['::ffff:90.0.0.1', 4, '90.0.0.1'],
    ['::FFFF:5a00:0001', 4, '90.0.0.1'],
    ['0:0:0:0:0:ffff:1.2.3.4', 4, '1.2.3.4'],
    ['::1.2.3.4', 6, '::102:304'],
    ['2001:DB8::1', 6, '2001:db8::1'],
    ['fe80::1%eth0', 6, 'fe80::1'],
    ['1:2:3:4:5:6:7::', 6, '1:2:3:4:5:6:7:0'],
    ['::', 6, '::'],
  ])('%s is IPv%s %s', (text, version, canonical) => {
    const result = parse(text);
    expect(result.version).toBe(version);
    expect(formatIp(result.parsed)).toBe(canonical);
  });

  test.each([
    '01.2.3.4',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '1.2.3.4%eth0',
    ':::',
    '1::2::3',
    '12345::',
    ' 1.2.3.4',
    '[::1]',
    'fe80::1%',
    '',
  ])('refuses %j', (text) => {
    expect(parse(text).version).toBe(0);
  });
});

describe('loadIpBytes', () => {
  test('maps a 16-byte IPv4-mapped address to IPv4', () => {
    const parsed = new ParsedIp();
    expect(loadIpBytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 203, 0, 113, 9], parsed)).toBe(4);
    expect(formatIp(parsed)).toBe('203.0.113.9');
    expect(loadIpBytes([1, 2, 3], parsed)).toBe(0);
  });
});

describe('normalizeIp', () => {
  test('gives one spelling per address and null for anything else', () => {
    expect(normalizeIp('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeIp('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(normalizeIp('unknown')).toBeNull();
    expect(normalizeIp(undefined as unknown as string)).toBeNull();
  });
});
