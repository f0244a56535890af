import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CertificateProblem, loadCertificatePair } from './certificate-pair.js';

const fixtures = fileURLToPath(new URL('../../../../fixtures/tls/', import.meta.url));
const fixture = (name: string) => join(fixtures, name);
const shop = { cert: fixture('shop-rsa.pem'), key: fixture('shop-rsa-key.pem') };
const news = { cert: fixture('news-ecdsa.pem'), key: fixture('news-ecdsa-key.pem') };

async function tempFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edge451-tls-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function problemOf(files: { cert: string; key: string }): CertificateProblem {
  try {
    loadCertificatePair(files);
  } catch (error) {
    if (error instanceof CertificateProblem) return error;
    throw error;
  }
  throw new Error('expected the pair to be refused');
}

describe('loadCertificatePair', () => {
  it('loads RSA and ECDSA pairs with their chain, leaf first', () => {
    const rsa = loadCertificatePair(shop);
    expect(rsa.keyType).toBe('rsa');
    expect(rsa.leaf.subject).toBe('CN=shop.example');
    const ecdsa = loadCertificatePair(news);
    expect(ecdsa.keyType).toBe('ec');
    expect(ecdsa.leaf.subjectAltName).toBe('DNS:news.example, DNS:*.news.example');
  });

  it('covers the names of the certificate, and a wildcard for exactly one label', () => {
    const pair = loadCertificatePair(news);
    expect(pair.covers('news.example')).toBe(true);
    expect(pair.covers('live.news.example')).toBe(true);
    expect(pair.covers('a.b.news.example')).toBe(false);
    expect(pair.covers('shop.example')).toBe(false);
    expect(pair.covers('127.0.0.1')).toBe(false);
    expect(pair.covers('::1')).toBe(false);
  });

  it('names the file and what was expected when a file is missing', () => {
    const problem = problemOf({ cert: '/nonexistent/fullchain.pem', key: shop.key });
    expect(problem.code).toBe('EDGE_TLS_FILE_UNREADABLE');
    expect(problem.field).toBe('cert');
    expect(problem.message).toBe(
      'cannot read /nonexistent/fullchain.pem (ENOENT): expected a PEM certificate chain',
    );
  });

  it('refuses a certificate file that holds no certificate, or one that does not parse', async () => {
    const dir = await tempFolder();
    await writeFile(join(dir, 'empty.pem'), 'not a certificate at all\n');
    await writeFile(
      join(dir, 'garbage.pem'),
      '-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n',
    );
    const empty = problemOf({ cert: join(dir, 'empty.pem'), key: shop.key });
    expect(empty.code).toBe('EDGE_TLS_CERT_INVALID');
    expect(empty.message).toBe(
      `${dir}/empty.pem holds no certificate: expected PEM certificates, leaf first, as in certbot's fullchain.pem`,
    );
    const garbage = problemOf({ cert: join(dir, 'garbage.pem'), key: shop.key });
    expect(garbage.code).toBe('EDGE_TLS_CERT_INVALID');
    expect(garbage.message).toBe(
      `certificate 1 in ${dir}/garbage.pem does not parse: expected PEM certificates, leaf first, as in certbot's fullchain.pem`,
    );
  });

  it('refuses a chain cut while it was written, even inside the BEGIN line of its issuer', async () => {
    const dir = await tempFolder();
    const chain = await readFile(fixture('shop-rsa.pem'), 'latin1');
    const issuerStart = chain.indexOf('-----BEGIN CERTIFICATE-----', 1);
    expect(issuerStart).toBeGreaterThan(0);
    for (const cut of [issuerStart + 11, issuerStart + 40]) {
      const file = join(dir, `cut-${cut}.pem`);
      await writeFile(file, chain.slice(0, cut), 'latin1');
      const problem = problemOf({ cert: file, key: shop.key });
      expect(problem.code).toBe('EDGE_TLS_CERT_INVALID');
      expect(problem.message).toMatch(/ends in an incomplete certificate/);
    }
    // Other complete PEM blocks beside the certificates (a key some tools append) are no cut.
    const withKey = join(dir, 'with-key.pem');
    await writeFile(withKey, chain + (await readFile(shop.key, 'latin1')), 'latin1');
    expect(loadCertificatePair({ cert: withKey, key: shop.key }).leaf.subject).toContain('shop');
  });

  it('refuses a key that belongs to another certificate, naming both files', () => {
    const problem = problemOf({ cert: shop.cert, key: news.key });
    expect(problem.code).toBe('EDGE_TLS_KEY_MISMATCH');
    expect(problem.field).toBe('key');
    expect(problem.message).toBe(
      `${news.key} does not match the certificate in ${shop.cert}: expected the private key of that certificate`,
    );
  });

  it('refuses a key file that is not a key, and says why an encrypted one cannot be used', async () => {
    const dir = await tempFolder();
    await copyFile(shop.cert, join(dir, 'not-a-key.pem'));
    await writeFile(
      join(dir, 'encrypted.pem'),
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAg=\n-----END ENCRYPTED PRIVATE KEY-----\n',
    );
    const notKey = problemOf({ cert: shop.cert, key: join(dir, 'not-a-key.pem') });
    expect(notKey.code).toBe('EDGE_TLS_KEY_INVALID');
    expect(notKey.message).toBe(
      `${dir}/not-a-key.pem is not a usable private key: expected a PEM private key`,
    );
    const encrypted = problemOf({ cert: shop.cert, key: join(dir, 'encrypted.pem') });
    expect(encrypted.message).toBe(
      `${dir}/encrypted.pem is not a usable private key: expected an unencrypted private key (the edge cannot ask for a passphrase)`,
    );
  });
});
