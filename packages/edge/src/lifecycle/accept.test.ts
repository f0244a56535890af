import { describe, expect, it } from 'vitest';
import { parseRequestTarget } from './accept.js';

describe('parseRequestTarget', () => {
  it('keeps an origin-form target as the path, query included', () => {
    expect(parseRequestTarget('/a/b?x=1')).toEqual({ path: '/a/b?x=1' });
  });

  it('takes the authority of an absolute-form target and keeps its path and query', () => {
    expect(parseRequestTarget('http://Example.com:8080/a?b')).toEqual({
      authority: 'Example.com:8080',
      path: '/a?b',
    });
    expect(parseRequestTarget('HTTPS://example.com')).toEqual({ authority: 'example.com', path: '/' });
    expect(parseRequestTarget('http://example.com?q=1')).toEqual({ authority: 'example.com', path: '/?q=1' });
  });

  it('drops a fragment from either form, which is never sent to an origin', () => {
    expect(parseRequestTarget('http://example.com/a#frag')).toEqual({ authority: 'example.com', path: '/a' });
    expect(parseRequestTarget('/a?b=1#frag/c?d')).toEqual({ path: '/a?b=1' });
    expect(parseRequestTarget('/#')).toEqual({ path: '/' });
  });

  it('hands userinfo to host normalisation, which refuses it', () => {
    expect(parseRequestTarget('http://user@evil.example/')).toEqual({
      authority: 'user@evil.example',
      path: '/',
    });
  });

  it('takes the asterisk-form for OPTIONS only (RFC 9112 §3.2.4)', () => {
    expect(parseRequestTarget('*', 'OPTIONS')).toEqual({ path: '*' });
    for (const method of ['GET', 'HEAD', 'POST', 'options'])
      expect(parseRequestTarget('*', method)).toBeUndefined();
  });

  it('refuses targets that are neither origin-form nor absolute-form', () => {
    expect(parseRequestTarget('example.com:443')).toBeUndefined();
    expect(parseRequestTarget('ftp://example.com/')).toBeUndefined();
    expect(parseRequestTarget('http:///nohost')).toBeUndefined();
    expect(parseRequestTarget('')).toBeUndefined();
  });
});
