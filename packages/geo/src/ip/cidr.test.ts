import { describe, expect, test } from 'vitest';
import { checkCidr, parseCidr } from './cidr.js';

const networkText = (text: string) => {
  const parsed = parseCidr(text);
  return typeof parsed === 'string' ? `error: ${parsed}` : `${parsed.text} (v${parsed.version})`;
};

describe('parseCidr', () => {
  test.each([
    ['10.0.0.0/8', '10.0.0.0/8 (v4)'],
    ['192.0.2.7', '192.0.2.7/32 (v4)'],
    ['2001:DB8::/32', '2001:db8::/32 (v6)'],
    ['2001:db8::1', '2001:db8::1/128 (v6)'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8 (v4)'],
    ['::ffff:192.0.2.7', '192.0.2.7/32 (v4)'],
    ['0.0.0.0/0', '0.0.0.0/0 (v4)'],
  ])('reads %s as %s', (text, expected) => {
    expect(networkText(text)).toBe(expected);
  });

  test.each([
    ['10.0.0.1/8', 'error: has host bits set after the prefix (did you mean 10.0.0.0/8?)'],
    ['2001:db8::1/32', 'error: has host bits set after the prefix (did you mean 2001:db8::/32?)'],
    ['10.0.0.0/33', 'error: prefix length 33 exceeds 32'],
    ['10.0.0.0/', "error: prefix length '' is not a number"],
    ['10.0.0.0/-1', "error: prefix length '-1' is not a number"],
    ['::ffff:0:0/95', 'error: covers more than the IPv4-mapped range ::ffff:0:0/96'],
    ['fe80::/10%eth0', "error: prefix length '10%eth0' is not a number"],
    ['fe80::1%eth0', 'error: has a zone id (`%...`), which a network cannot have'],
    ['example.com', "error: 'example.com' is not an IPv4 or IPv6 address"],
  ])('refuses %s', (text, expected) => {
    expect(networkText(text)).toBe(expected);
  });

  test('refuses a value that is not a string', () => {
    expect(parseCidr(42 as unknown as string)).toBe('is not a string');
  });

  test('checkCidr gives the same verdict as a message or null', () => {
    expect(checkCidr('10.0.0.0/8')).toBeNull();
    expect(checkCidr('10.0.0.1/8')).toBe('has host bits set after the prefix (did you mean 10.0.0.0/8?)');
  });
});
