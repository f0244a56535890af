import { describe, expect, test } from 'vitest';
import { formatIp } from '../ip/normalize-ip.js';
import { ParsedIp } from '../ip/parse-ip.js';
import { type HopSyntax, parseHopAddress } from './hop-address.js';

const hop = (text: string, syntax: HopSyntax) => {
  const parsed = new ParsedIp();
  return parseHopAddress(text, syntax, parsed) ? formatIp(parsed) : null;
};

describe('parseHopAddress', () => {
  test.each([
    ['192.0.2.1', '192.0.2.1'],
    ['192.0.2.1:8080', '192.0.2.1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:DB8::1]:4711', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['[::ffff:192.0.2.1]:80', '192.0.2.1'],
  ])('X-Forwarded-For entry %s is %s', (text, expected) => {
    expect(hop(text, 'x-forwarded-for')).toBe(expected);
  });

  test.each([
    ['192.0.2.1', '192.0.2.1'],
    ['192.0.2.1:_port', '192.0.2.1'],
    ['[2001:db8:cafe::17]:4711', '2001:db8:cafe::17'],
    ['[2001:db8::1]:_x', '2001:db8::1'],
  ])('Forwarded node %s is %s', (text, expected) => {
    expect(hop(text, 'forwarded')).toBe(expected);
  });

  test.each([
    ['unknown', 'forwarded'],
    ['_hidden', 'forwarded'],
    ['2001:db8::1', 'forwarded'],
    ['192.0.2.1:_port', 'x-forwarded-for'],
    ['192.0.2.1:65536', 'x-forwarded-for'],
    ['192.0.2.1:', 'x-forwarded-for'],
    ['[192.0.2.1]', 'x-forwarded-for'],
    ['[2001:db8::1', 'x-forwarded-for'],
    ['[2001:db8::1]x', 'x-forwarded-for'],
    ['unknown', 'x-forwarded-for'],
    ['', 'x-forwarded-for'],
    ['localhost', 'x-forwarded-for'],
  ] as Array<[string, HopSyntax]>)('%j in %s names no address', (text, syntax) => {
    expect(hop(text, syntax)).toBeNull();
  });
});
