import { describe, expect, it } from 'vitest';
import { EXACT, parseHostEntry, parseHostPattern, SUBTREE, toHostEntry, WILDCARD } from './host-pattern.js';

describe('host patterns of orders', () => {
  it('parses names, wildcards and include-subdomains names, normalised', () => {
    expect(parseHostPattern('MotoGPStream.ME.', false)).toEqual({ name: 'motogpstream.me', kind: EXACT });
    expect(parseHostPattern('motogpstream.me', true)).toEqual({ name: 'motogpstream.me', kind: SUBTREE });
    expect(parseHostPattern('*.Bücher.example', false)).toEqual({
      name: 'xn--bcher-kva.example',
      kind: WILDCARD,
    });
    expect(parseHostPattern('*.example.com', true)).toEqual({ name: 'example.com', kind: WILDCARD });
  });

  it.each([
    ['example.com:443', 'an order host has no port and is never an IP literal'],
    ['[::1]', 'an order host has no port and is never an IP literal'],
    ['10.0.0.1', 'IP literals cannot be order hosts (no order can match an IP literal)'],
    ['*.10.0.0.1', 'IP literals cannot be order hosts (no order can match an IP literal)'],
    ['a.*.example.com', '"*" is only allowed as the whole first label'],
    ['*example.com', '"*" is only allowed as the whole first label'],
    ['*.com', 'a wildcard or includeSubdomains must name at least two labels'],
    ['a b.com', 'host contains whitespace'],
  ])('refuses %j: %s', (value, reason) => {
    expect(parseHostPattern(value, false)).toEqual({
      message: `expected a host name such as "example.com" or "*.example.com", found ${JSON.stringify(value)}: ${reason}`,
    });
  });

  it('refuses includeSubdomains over a single label', () => {
    expect(parseHostPattern('localhost', true)).toMatchObject({
      message: expect.stringContaining('at least two labels'),
    });
    expect(parseHostPattern('localhost', false)).toEqual({ name: 'localhost', kind: EXACT });
  });

  it('lets an object entry override the order default, and names the faulty key', () => {
    expect(parseHostEntry({ host: 'a.example', includeSubdomains: true }, false)).toEqual({
      name: 'a.example',
      kind: SUBTREE,
    });
    expect(parseHostEntry({ host: 'a.example', includeSubdomains: false }, true)).toEqual({
      name: 'a.example',
      kind: EXACT,
    });
    expect(parseHostEntry({ host: 'a.example' }, true)).toEqual({ name: 'a.example', kind: SUBTREE });
    expect(parseHostEntry({ host: 'a.example', subdomains: true }, false)).toEqual({
      field: 'subdomains',
      message: 'unknown key: expected only "host" and "includeSubdomains"',
    });
    expect(parseHostEntry({ host: 'a.example', includeSubdomains: 'yes' }, false)).toEqual({
      field: 'includeSubdomains',
      message: 'expected true or false, found "yes"',
    });
    expect(parseHostEntry({ host: '*.a.example', includeSubdomains: true }, false)).toMatchObject({
      field: 'includeSubdomains',
      message: expect.stringContaining('a wildcard already matches every subdomain'),
    });
    expect(parseHostEntry(42, false)).toEqual({
      message:
        'expected a host name such as "example.com" or "*.example.com" or { host, includeSubdomains }, found number 42',
    });
  });

  it('writes a rule back relative to its order default', () => {
    expect(toHostEntry({ name: 'a.example', kind: EXACT }, false)).toBe('a.example');
    expect(toHostEntry({ name: 'a.example', kind: EXACT }, true)).toEqual({
      host: 'a.example',
      includeSubdomains: false,
    });
    expect(toHostEntry({ name: 'a.example', kind: SUBTREE }, true)).toBe('a.example');
    expect(toHostEntry({ name: 'a.example', kind: WILDCARD }, true)).toBe('*.a.example');
  });
});
