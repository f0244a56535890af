import fc from 'fast-check';
import CachePolicy from 'http-cache-semantics';
import { describe, expect, test } from 'vitest';
import {
  LazyPolicyRequest,
  originRequestHeaders,
  passRequestHeaders,
  policyRequestHeaders,
  policyResponseHeaders,
} from './request-headers.js';

describe('LazyPolicyRequest', () => {
  const name = fc.constantFrom(
    'host',
    'cache-control',
    'pragma',
    'accept-language',
    'x-forwarded-host',
    'x-a',
  );
  const value = fc.oneof(
    fc.constantFrom('', 'fr', 'no-cache', 'a, b'),
    fc.array(fc.constantFrom('x', 'y', ''), { minLength: 1, maxLength: 3 }),
  );
  const headers = fc.dictionary(name, fc.option(value, { nil: undefined }), { maxKeys: 6 });

  test('reads each header as policyRequestHeaders would hold it, without building them', () => {
    const asked = fc.oneof(name, fc.constantFrom('constructor', 'toString', 'absent'));
    fc.assert(
      fc.property(headers, fc.constantFrom('example.com', 'b.example'), asked, (source, host, field) => {
        const built = policyRequestHeaders(source, host);
        const request = new LazyPolicyRequest(source, host, '/a?b');
        expect(request.header(field)).toBe(Object.hasOwn(built, field) ? built[field] : undefined);
      }),
      { numRuns: 1000 },
    );
  });

  test('builds the headers http-cache-semantics reads once, on first use', () => {
    const source = { host: 'Example.COM:80', 'cache-control': 'no-cache', accept: ['a', 'b'] };
    const request = new LazyPolicyRequest(source, 'example.com', '/a?b');
    expect(request).toMatchObject({ method: 'GET', url: '/a?b' });
    expect(request.headers).toEqual({ host: 'example.com', accept: 'a, b' });
    expect(request.headers).toBe(request.headers);
  });

  test('a spread of it carries no client header (stored requests are built from spreads)', () => {
    const request = new LazyPolicyRequest({ cookie: 'secret' }, 'example.com', '/');
    expect({ ...request }).toEqual({ method: 'GET', url: '/' });
  });
});

describe('policyResponseHeaders', () => {
  test('puts Cache-Control directive names in lower case, and leaves their values and other headers alone', () => {
    expect(
      policyResponseHeaders({
        'cache-control': ['Private, Max-Age=600', 'No-Cache="Set-Cookie"'],
        'x-kept': 'MixedCase',
        'set-cookie': ['a=1', 'b=2'],
      }),
    ).toEqual({
      'cache-control': 'private, max-age=600, no-cache="Set-Cookie"',
      'x-kept': 'MixedCase',
      'set-cookie': ['a=1', 'b=2'],
    });
  });

  test('the library then sees the directives whatever their case', () => {
    for (const value of ['Private, max-age=600', 'max-age=600, No-Store', 'NO-STORE']) {
      const policy = new CachePolicy(
        { method: 'GET', url: '/', headers: {} },
        { status: 200, headers: policyResponseHeaders({ 'cache-control': value }) },
        { shared: true },
      );
      expect({ value, storable: policy.storable() }).toEqual({ value, storable: false });
    }
  });
});

describe('originRequestHeaders', () => {
  test('drops URL, method and host overrides in the underscore spelling CGI-style origins read alike, and keeps the rest', () => {
    const sent = originRequestHeaders({
      'x-original-url': '/admin',
      x_original_url: '/admin',
      x_http_method_override: 'DELETE',
      x_host: 'blocked.example',
      'x-forwarded-host': 'news.example',
      x_custom_field: 'kept',
      accept: 'text/html',
    });
    expect(sent).toEqual({ 'x-forwarded-host': 'news.example', x_custom_field: 'kept', accept: 'text/html' });
  });
});

describe('originRequestHeaders and passRequestHeaders', () => {
  const client = {
    'if-none-match': '"v1"',
    'cache-control': 'no-cache',
    pragma: 'no-cache',
    x_original_url: '/admin',
    accept: 'text/html',
  };

  test('a storable request leaves out the validators and request directives the cache answers or ignores', () => {
    expect(originRequestHeaders(client)).toEqual({ accept: 'text/html' });
  });

  test('a forwarded-only request keeps them, but not an override in either spelling', () => {
    expect(passRequestHeaders({ ...client, 'x-http-method-override': 'DELETE' })).toEqual({
      'if-none-match': '"v1"',
      'cache-control': 'no-cache',
      pragma: 'no-cache',
      accept: 'text/html',
    });
  });

  test('headers with nothing to leave out are handed back, not copied', () => {
    const headers = { accept: 'text/html', 'x-forwarded-host': 'news.example' };
    expect(originRequestHeaders(headers)).toBe(headers);
    expect(passRequestHeaders(headers)).toBe(headers);
  });
});
