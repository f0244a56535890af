import fc from 'fast-check';
import CachePolicy from 'http-cache-semantics';
import { describe, expect, test } from 'vitest';
import { withLinearListWhitespace } from './list-whitespace.js';
import { createPolicyClass } from './policy.js';
import { policyResponseHeaders } from './request-headers.js';

const token = fc.constantFrom('accept-language', 'Accept-Encoding', 'origin', 'x-a', 'X-B', 'cookie', '*');
const ows = fc.array(fc.constantFrom(' ', '\t'), { maxLength: 4 }).map((chars) => chars.join(''));
/** A comma-separated list of tokens with random optional whitespace around every member (empty ones too). */
const list = fc
  .tuple(ows, fc.array(fc.tuple(fc.option(token, { nil: '' }), ows, ows), { minLength: 1, maxLength: 5 }))
  .map(
    ([lead, members]) => lead + members.map(([name, before, after]) => `${before}${name}${after}`).join(','),
  );
const requestValue = fc.option(fc.constantFrom('x', 'y', ''), { nil: undefined });
const requestHeaders = fc
  .array(fc.tuple(token, requestValue), { maxLength: 6 })
  .map((pairs) =>
    Object.fromEntries(
      pairs.flatMap(([name, value]) => (value === undefined ? [] : [[name.toLowerCase(), value]])),
    ),
  );

describe('whitespace in the lists http-cache-semantics splits', () => {
  test('a Vary list with any optional whitespace selects exactly the requests it selected before', () => {
    fc.assert(
      fc.property(list, requestHeaders, requestHeaders, (vary, stored, asked) => {
        const decide = (value: string) =>
          new CachePolicy(
            { method: 'GET', url: '/', headers: { host: 'example.com', ...stored } },
            { status: 200, headers: { 'cache-control': 'max-age=60', vary: value } },
            { shared: true },
          ).satisfiesWithoutRevalidation({
            method: 'GET',
            url: '/',
            headers: { host: 'example.com', ...asked },
          });
        expect(decide(withLinearListWhitespace('vary', vary))).toBe(decide(vary));
      }),
      { numRuns: 2000 },
    );
  });

  test('a Connection list with any optional whitespace removes exactly the fields it removed before', () => {
    const Policy = createPolicyClass(() => Date.parse('2025-03-28T10:00:00Z'));
    const named = fc.dictionary(
      token.map((name) => name.toLowerCase()),
      fc.constant('v'),
      { maxKeys: 5 },
    );
    fc.assert(
      fc.property(list, named, (connection, fields) => {
        const served = (value: string) =>
          new Policy(
            { method: 'GET', url: '/', headers: { host: 'example.com' } },
            { status: 200, headers: { 'cache-control': 'max-age=60', ...fields, connection: value } },
            { shared: true },
          ).responseHeaders();
        expect(served(withLinearListWhitespace('connection', connection))).toEqual(served(connection));
      }),
      { numRuns: 2000 },
    );
  });

  test('hostile runs in Vary and Connection reach the library as single spaces; other fields are untouched', () => {
    const run = `a${' '.repeat(15_000)}b`;
    const headers = policyResponseHeaders({
      vary: run,
      connection: [`x${'\t '.repeat(5_000)}`, run],
      'x-other': run,
      'cache-control': `max-age=60,${' '.repeat(100)}public`,
    });
    expect(headers).toEqual({
      vary: 'a b',
      connection: 'x , a b',
      'x-other': run,
      'cache-control': `max-age=60,${' '.repeat(100)}public`,
    });
  });

  test('no run of two whitespace characters is left in either list, whatever the origin sent', () => {
    const hostile = fc
      .array(fc.constantFrom(' ', '\t', '\u00a0', ',', 'a', '\u3000'), { maxLength: 200 })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(fc.constantFrom('vary', 'connection'), hostile, (name, value) => {
        expect(withLinearListWhitespace(name, value)).not.toMatch(/\s\s/);
      }),
    );
  });
});
