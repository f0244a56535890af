import { describe, expect, test } from 'vitest';
import { toStoreSelector } from './purge-selector.js';

describe('toStoreSelector', () => {
  test('a URL becomes the GET key, with or without a scheme, its path untouched', () => {
    const expected = { kind: 'key', key: 'GET example.com /a%20b?x=1' };
    expect(toStoreSelector({ url: 'https://example.com/a%20b?x=1' })).toEqual(expected);
    expect(toStoreSelector({ url: 'HTTP://example.com/a%20b?x=1' })).toEqual(expected);
    expect(toStoreSelector({ url: 'example.com/a%20b?x=1' })).toEqual(expected);
  });

  test('a prefix is a host and a path prefix', () => {
    expect(toStoreSelector({ prefix: 'example.com/images/' })).toEqual({
      kind: 'host',
      host: 'example.com',
      pathPrefix: '/images/',
    });
  });

  test('host, surrogate key and all map one to one', () => {
    expect(toStoreSelector({ host: 'example.com' })).toEqual({ kind: 'host', host: 'example.com' });
    expect(toStoreSelector({ surrogateKey: 'Product-1' })).toEqual({
      kind: 'surrogate-key',
      surrogateKey: 'Product-1',
    });
    expect(toStoreSelector({ all: true })).toEqual({ kind: 'all' });
  });

  test('IP literal hosts are accepted as normalizeHost writes them', () => {
    expect(toStoreSelector({ host: '::1' })).toEqual({ kind: 'host', host: '::1' });
    expect(toStoreSelector({ url: '127.0.0.1/health' })).toEqual({
      kind: 'key',
      key: 'GET 127.0.0.1 /health',
    });
  });

  test('every host of a selector goes through the host form it is given, and one it refuses is a client error', () => {
    const lowerCase = (host: string) => (host.includes(' ') ? undefined : host.toLowerCase());
    expect(toStoreSelector({ host: 'A.Example' }, lowerCase)).toEqual({ kind: 'host', host: 'a.example' });
    expect(toStoreSelector({ hostSuffix: 'A.Example' }, lowerCase)).toEqual({
      kind: 'host-suffix',
      suffix: 'a.example',
    });
    expect(toStoreSelector({ prefix: 'A.Example/Images/' }, lowerCase)).toEqual({
      kind: 'host',
      host: 'a.example',
      pathPrefix: '/Images/',
    });
    expect(toStoreSelector({ url: 'https://A.Example/P?Q' }, lowerCase)).toEqual({
      kind: 'key',
      key: 'GET a.example /P?Q',
    });
    expect(() => toStoreSelector({ host: 'a example' }, lowerCase)).toThrow(
      'invalid purge selector: expected a host name or IP address as requests use them, got "a example"',
    );
  });

  test('by default a host must already be in the stored form', () => {
    for (const host of ['A.example', 'a.example.', 'a.example:80', '[::1]']) {
      expect(() => toStoreSelector({ host })).toThrow(/^invalid purge selector: expected a host name/);
    }
  });
});
