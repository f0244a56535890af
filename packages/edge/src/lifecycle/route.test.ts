import { describe, expect, it } from 'vitest';
import { createSiteRouter, type SiteConfig } from './route.js';

const site = (name: string, hosts: string[]) => ({ name, hosts, origin: 'http://127.0.0.1:1' }) as SiteConfig;

describe('createSiteRouter', () => {
  const router = createSiteRouter([
    site('exact', ['www.example.com', '1.2.3.4']),
    site('wide', ['*.example.com']),
    site('narrow', ['*.cdn.example.com']),
  ]);
  const siteOf = (host: string) => router.match(host)?.name;

  it('answers the same for a host asked again, after other hosts (the wildcard walk is remembered)', () => {
    const asked = [
      'a.cdn.example.com',
      'www.example.com',
      'b.example.com',
      'nope.test',
      '5.6.3.4',
      '1.2.3.4',
    ];
    const expected = ['narrow', 'exact', 'wide', undefined, undefined, 'exact'];
    for (let round = 0; round < 3; round++) expect(asked.map(siteOf)).toEqual(expected);
  });

  it('takes the longest wildcard suffix', () => {
    expect(siteOf('x.y.cdn.example.com')).toBe('narrow');
    expect(siteOf('cdn.example.com')).toBe('wide');
    expect(siteOf('example.com')).toBeUndefined();
  });
});
