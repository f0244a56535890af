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
});
