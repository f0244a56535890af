import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { appendForwardedFor, appendXForwardedFor } from './forwarding-headers.js';

const forwardedFor = (value: string) => {
  const entries: (string | null)[] = [];
  appendForwardedFor(value, entries);
  return entries;
};

const xForwardedFor = (value: string) => {
  const entries: (string | null)[] = [];
  appendXForwardedFor(value, entries);
  return entries;
};

describe('appendForwardedFor', () => {
  test.each([
    ['for=192.0.2.60;proto=http;by=203.0.113.43', ['192.0.2.60']],
    ['for="[2001:db8:cafe::17]:4711"', ['[2001:db8:cafe::17]:4711']],
    ['For="_gazonk"', ['_gazonk']],
    ['for=192.0.2.43, for=198.51.100.17', ['192.0.2.43', '198.51.100.17']],
    ['for=unknown', ['unknown']],
    ['proto=https;for=192.0.2.1;', ['192.0.2.1']],
    ['for=192.0.2.1 ; proto=https', ['192.0.2.1']],
    ['for="192.0.2.1, evil"', ['192.0.2.1, evil']],
    ['for="a\\"b"', ['a"b']],
    [' , ,for=192.0.2.1,, ', ['192.0.2.1']],
  ])('reads %j as %j', (value, expected) => {
    expect(forwardedFor(value)).toEqual(expected);
  });

  test.each([
    ['proto=https', [null]],
    ['for=192.0.2.1;for=192.0.2.2', [null]],
    ['for', [null]],
    ['for=', [null]],
    ['=192.0.2.1', [null]],
    ['for="192.0.2.1', [null]],
    ['for=192.0.2.1 junk, for=192.0.2.9', [null, '192.0.2.9']],
    ['for="x,y" junk, for=192.0.2.9', [null, '192.0.2.9']],
  ])('marks the unidentifiable element in %j', (value, expected) => {
    expect(forwardedFor(value)).toEqual(expected);
  });

  // A proxy appends its element to the line the client sent: whatever the client wrote, an unterminated
  // quote included, must not change how the elements appended after it read.
  test.each([
    ['for="216.160.83.56, for="[2a02:cfc0::1]"', [null, '[2a02:cfc0::1]']],
    ['for="x, for=90.0.0.1', [null, '90.0.0.1']],
    ['for="\\, for=90.0.0.1', [null, '90.0.0.1']],
    ['for="a\\\\", for=90.0.0.1', ['a\\', '90.0.0.1']],
    ['"""", for=10.0.0.1, for=90.0.0.1', [null, '10.0.0.1', '90.0.0.1']],
  ])('the elements a proxy appended to %j read the same whatever precedes them', (value, expected) => {
    expect(forwardedFor(value)).toEqual(expected);
  });

  test('an element appended to any client prefix reads as it does alone', () => {
    const clientBytes = fc.array(fc.constantFrom('for', '=', '"', '\\', ';', ',', ' ', 'x', '1.2.3.4'), {
      maxLength: 20,
    });
    fc.assert(
      fc.property(clientBytes, (parts) => {
        const entries = forwardedFor(`${parts.join('')}, for="[2a02:cfc0::1]";proto=https, for=10.0.0.2`);
        expect(entries.slice(-2)).toEqual(['[2a02:cfc0::1]', '10.0.0.2']);
      }),
      { numRuns: 5_000 },
    );
  });

  test('never throws and always terminates, whatever the value', () => {
    const pieces = fc.constantFrom(
      'for',
      '=',
      '"',
      '\\',
      ';',
      ',',
      ' ',
      '\t',
      '[',
      ']',
      ':',
      '192.0.2.1',
      '::1',
      'x',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(pieces, { maxLength: 30 }).map((parts) => parts.join('')),
        ),
        (value) => {
          const entries = forwardedFor(value);
          expect(entries.length).toBeLessThanOrEqual(value.length);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe('appendXForwardedFor', () => {
  test('splits on commas, trims spaces and drops empty elements', () => {
    expect(xForwardedFor(' 203.0.113.7 ,\t10.0.0.1,, [2001:db8::1]:443 ,')).toEqual([
      '203.0.113.7',
      '10.0.0.1',
      '[2001:db8::1]:443',
    ]);
  });
});
