import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText } from '../config/load-config.js';
import { CertificateProblem } from './certificate-pair.js';
import { CertificateStore } from './certificate-store.js';

const fixtures = fileURLToPath(new URL('../../../../fixtures/tls/', import.meta.url));
const pairOf = (name: string) => ({
  cert: join(fixtures, `${name}.pem`),
  key: join(fixtures, `${name}-key.pem`),
});
const listenerTls = pairOf('listener-default');

function configWith(sites: object[]) {
  const document = {
    listen: [{ host: '127.0.0.1', port: 0, tls: listenerTls }],
    sites,
    legal: { blockedBy: 'https://edge.example/legal' },
  };
  return parseConfigText(stringify(document), join(fixtures, 'edge451.yaml'), {});
}

const sites = [
  {
    name: 'shop',
    hosts: ['shop.example', 'www.shop.example'],
    origin: 'http://127.0.0.1:9',
    tls: pairOf('shop-rsa'),
  },
  {
    name: 'news',
    hosts: ['news.example', '*.news.example'],
    origin: 'http://127.0.0.1:9',
    tls: pairOf('news-ecdsa'),
  },
  { name: 'plain', hosts: ['plain.example'], origin: 'http://127.0.0.1:9' },
];

function openStore(config = configWith(sites)) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      callback();
    },
  });
  const store = CertificateStore.open(config, pino({ level: 'info' }, sink));
  onTestFinished(() => store.close());
  const subjectFor = (serverName: string | undefined) => store.select(listenerTls, serverName).leaf.subject;
  return { store, lines, subjectFor };
}

describe('CertificateStore', () => {
  it("gives a server name its site's certificate, by the routing rule: exact name, then wildcard", () => {
    const { subjectFor } = openStore();
    expect(subjectFor('shop.example')).toBe('CN=shop.example');
    expect(subjectFor('www.shop.example')).toBe('CN=shop.example');
    expect(subjectFor('WWW.Shop.Example.')).toBe('CN=shop.example');
    expect(subjectFor('news.example')).toBe('CN=news.example');
    expect(subjectFor('live.news.example')).toBe('CN=news.example');
  });

  it("gives the listener's certificate for no SNI, unknown names, sites without one, and names that are not hosts", () => {
    const { subjectFor } = openStore();
    for (const serverName of [
      undefined,
      'unknown.example',
      'plain.example',
      'bad name',
      '',
      'a'.repeat(300),
    ]) {
      expect(subjectFor(serverName)).toBe('CN=edge.example');
    }
  });

  it('warns when a site has a certificate that does not cover one of its hosts', () => {
    const { lines } = openStore(
      configWith([
        {
          name: 'shop',
          hosts: ['shop.example', 'other.example'],
          origin: 'http://127.0.0.1:9',
          tls: pairOf('shop-rsa'),
        },
      ]),
    );
    expect(lines.filter((line) => line.level === 40)).toMatchObject([
      { site: 'shop', host: 'other.example' },
    ]);
  });

  it('takes the sites of a reloaded config; a certificate that cannot be loaded changes nothing', () => {
    const { store, subjectFor } = openStore();
    store.useConfig(configWith([sites[0] as object, { ...(sites[1] as object), tls: undefined }]));
    expect(subjectFor('news.example')).toBe('CN=edge.example');
    expect(subjectFor('shop.example')).toBe('CN=shop.example');

    const broken = configWith(sites);
    const news = broken.sites[1];
    if (news !== undefined) news.tls = { cert: join(fixtures, 'missing.pem'), key: pairOf('news-ecdsa').key };
    expect(() => store.useConfig(broken)).toThrow(CertificateProblem);
    expect(subjectFor('news.example')).toBe('CN=edge.example');
  });
});
