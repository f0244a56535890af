import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rewriteOriginUrl } from './rewrite-location.js';

const origin = 'http://10.0.0.5:8080';
const client = 'https://shop.example';
const rewrite = (value: string, siteOrigin = origin) => rewriteOriginUrl(value, siteOrigin, client);

describe('rewriteOriginUrl', () => {
  it.each([
    ['http://10.0.0.5:8080/login?x=1', 'https://shop.example/login?x=1'],
    ['HTTP://10.0.0.5:8080/a', 'https://shop.example/a'],
    ['http://10.0.0.5:08080/a', 'https://shop.example/a'],
    ['http://10.0.0.5:8080', 'https://shop.example'],
    ['http://10.0.0.5:8080?q', 'https://shop.example?q'],
    ['http://10.0.0.5:8080#top', 'https://shop.example#top'],
    // Kept exactly as the origin wrote it: not decoded, not re-encoded, spaces and all.
    [
      'http://10.0.0.5:8080/a%2Fb/%7e/é ?x=%zz&y=a+b#F%20',
      'https://shop.example/a%2Fb/%7e/é ?x=%zz&y=a+b#F%20',
    ],
    ['http://10.0.0.5:8080//double/../dots', 'https://shop.example//double/../dots'],
  ])('%s → %s', (value, expected) => {
    expect(rewrite(value)).toBe(expected);
  });

  it('treats an explicit default port as the same origin, whatever the case of scheme and host', () => {
    expect(rewrite('http://Origin.Internal:80/x', 'http://origin.internal')).toBe('https://shop.example/x');
    expect(rewrite('HTTPS://ORIGIN.INTERNAL:443/x', 'https://origin.internal')).toBe(
      'https://shop.example/x',
    );
    expect(rewrite('https://origin.internal/x', 'https://origin.internal')).toBe('https://shop.example/x');
    expect(rewrite('http://origin.internal:/x', 'http://origin.internal')).toBe('https://shop.example/x');
    expect(rewrite('http://[::1]:8080/x', 'http://[::1]:8080')).toBe('https://shop.example/x');
    expect(rewrite('http://[0:0::1]:8080/x', 'http://[::1]:8080')).toBe('https://shop.example/x');
  });

  it.each([
    ['a relative path', '/login?x=1'],
    ['a scheme-relative reference', '//10.0.0.5:8080/login'],
    ['another host', 'http://shop.example/login'],
    ['the same host on another port', 'http://10.0.0.5/login'],
    ['the same address over the other scheme', 'https://10.0.0.5:8080/login'],
    ['userinfo', 'http://user:secret@10.0.0.5:8080/login'],
    ['a backslash the URL parser would take for a slash', 'http://10.0.0.5:8080\\evil.example/x'],
    ['a tab the URL parser would drop', 'http://10.0.0.5:80\t80/x'],
    ['a port out of range', 'http://10.0.0.5:99999/x'],
    ['an unclosed IPv6 literal', 'http://[::1:8080/x'],
    ['no scheme', '10.0.0.5:8080/x'],
    ['an empty value', ''],
    ['garbage', '\u0000\uffff%%%://'],
  ])('leaves %s alone', (_case, value) => {
    expect(rewrite(value)).toBe(value);
    // The control: the same site does rewrite its own address.
    expect(rewrite('http://10.0.0.5:8080/login')).toBe('https://shop.example/login');
  });
});

// The site's origin as the config loader keeps it (`URL.origin`), and other spellings of the same address.
const siteOrigins = fc
  .record({
    scheme: fc.constantFrom('http', 'https'),
    host: fc.oneof(fc.ipV4(), fc.domain()),
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  })
  .map(({ scheme, host, port }) => ({
    scheme,
    host,
    port,
    origin: new URL(`${scheme}://${host}${port === undefined ? '' : `:${port}`}`).origin,
  }));

function spellingOf(site: { scheme: string; host: string; port: number | undefined }, upper: boolean[]) {
  const defaultPort = site.scheme === 'https' ? 443 : 80;
  const port = site.port ?? (upper[0] ? defaultPort : undefined);
  const recase = (text: string) =>
    [...text].map((char, index) => (upper[index % upper.length] ? char.toUpperCase() : char)).join('');
  return `${recase(site.scheme)}://${recase(site.host)}${port === undefined ? '' : `:${port}`}`;
}

// What follows the authority: anything at all, once a `/`, `?` or `#` has ended the authority.
const rest = fc.oneof(
  fc.constant(''),
  fc
    .tuple(fc.constantFrom('/', '?', '#'), fc.string({ unit: 'binary' }))
    .map(([start, text]) => start + text),
);

describe('rewriteOriginUrl, properties', () => {
  it('a URL on the origin, in any spelling, gets the client origin and keeps the rest byte for byte', () => {
    fc.assert(
      fc.property(siteOrigins, fc.array(fc.boolean(), { minLength: 1 }), rest, (site, upper, tail) => {
        const value = spellingOf(site, upper) + tail;
        expect(rewriteOriginUrl(value, site.origin, client)).toBe(client + tail);
      }),
    );
  });

  it('anything else comes back unchanged, and never throws', () => {
    const others = fc.oneof(
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.webPath(),
      fc.string({ unit: 'binary' }),
      fc.tuple(fc.webAuthority(), rest).map(([authority, tail]) => `//${authority}${tail}`),
    );
    fc.assert(
      fc.property(siteOrigins, others, rest, (site, other, tail) => {
        fc.pre(!other.toLowerCase().includes(site.host.toLowerCase()));
        expect(rewriteOriginUrl(other, site.origin, client)).toBe(other);
        // The control: the same site's own address is rewritten.
        expect(rewriteOriginUrl(site.origin + tail, site.origin, client)).toBe(client + tail);
      }),
    );
  });
});
