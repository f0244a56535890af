import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseProxyHeader, startsWithProxySignature } from './parse-proxy-header.js';

const V2_SIGNATURE = '0d0a0d0a000d0a515549540a';
const bytes = (text: string) => Buffer.from(text, 'latin1');
const hex = (text: string) => Buffer.from(text.replace(/ /g, ''), 'hex');

describe('parseProxyHeader', () => {
  test.each([
    ['PROXY TCP4 203.0.113.1 192.0.2.1 51234 443\r\nGET', 44, '203.0.113.1'],
    ['PROXY TCP6 2001:DB8::1 2001:db8::2 51234 443\r\n', 46, '2001:db8::1'],
    ['PROXY TCP6 ::ffff:203.0.113.1 ::1 1 2\r\n', 39, '203.0.113.1'],
    ['PROXY UNKNOWN\r\n', 15, null],
    ['PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n', 35, null],
  ])('reads v1 %j', (text, headerLength, sourceAddress) => {
    expect(parseProxyHeader(bytes(text))).toEqual({ status: 'complete', headerLength, sourceAddress });
  });

  test.each([
    'PROXY TCP4 203.0.113.1 192.0.2.1 51234 443 extra\r\n',
    'PROXY TCP4 203.0.113.1  192.0.2.1 51234 443\r\n',
    'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n',
    'PROXY TCP5 203.0.113.1 192.0.2.1 1 2\r\n',
    'PROXY TCP4 203.0.113.1 2001:db8::1 1 2\r\n',
    'PROXY tcp4 203.0.113.1 192.0.2.1 1 2\r\n',
  ])('refuses v1 %j', (text) => {
    expect(parseProxyHeader(bytes(text)).status).toBe('invalid');
  });

  test('reads a v2 IPv4 PROXY header and ignores its TLVs', () => {
    const header = hex(`${V2_SIGNATURE} 21 11 0013 cb007101 c0000201 c822 01bb 04 0004 74657374`);
    expect(parseProxyHeader(Buffer.concat([header, bytes('GET')]))).toEqual({
      status: 'complete',
      headerLength: 35,
      sourceAddress: '203.0.113.1',
    });
  });

  test('a v2 header with an UNSPEC family or a UNIX address carries no client address', () => {
    expect(parseProxyHeader(hex(`${V2_SIGNATURE} 21 00 0000`))).toEqual({
      status: 'complete',
      headerLength: 16,
      sourceAddress: null,
    });
    const unix = hex(`${V2_SIGNATURE} 21 31 00d8 ${'00'.repeat(216)}`);
    expect(parseProxyHeader(unix)).toEqual({ status: 'complete', headerLength: 232, sourceAddress: null });
  });

  test('refuses a v2 header whose length is shorter than its addresses', () => {
    expect(parseProxyHeader(hex(`${V2_SIGNATURE} 21 11 0004 cb007101`))).toMatchObject({ status: 'invalid' });
  });

  test('asks for more bytes until a header is complete', () => {
    expect(parseProxyHeader(bytes('PROX'))).toEqual({ status: 'incomplete' });
    expect(parseProxyHeader(bytes('PROXY TCP4 203.0.113.1'))).toEqual({ status: 'incomplete' });
    expect(parseProxyHeader(hex(`${V2_SIGNATURE} 21 11 000c cb00`))).toEqual({
      status: 'incomplete',
      bytesNeeded: 28,
    });
  });

  test('never throws on arbitrary bytes behind a signature', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(bytes('PROXY '), hex(V2_SIGNATURE)),
        fc.uint8Array({ maxLength: 300 }),
        (signature, rest) => {
          const result = parseProxyHeader(Buffer.concat([signature, rest]));
          expect(['incomplete', 'invalid', 'complete']).toContain(result.status);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe('startsWithProxySignature', () => {
  test.each([
    ['PROXY ', 'yes'],
    ['PRO', 'maybe'],
    ['', 'maybe'],
    ['GET / HTTP/1.1', 'no'],
    ['PROXY/1', 'no'],
    ['\r\n\r\n\0', 'maybe'],
  ])('%j → %s', (text, expected) => {
    expect(startsWithProxySignature(bytes(text))).toBe(expected);
  });
});
