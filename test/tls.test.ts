import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { clientIps } from './support/blocking-order.js';
import { until, workerOf } from './support/cluster.js';
import { runCli, tempDir, testConfig } from './support/edge.js';
import { send } from './support/http.js';
import { startOrigin } from './support/origin.js';
import {
  testCa as ca,
  tlsFixture as fixture,
  pairOf,
  requestOverTls,
  startEdgeWithTls,
  type TlsEdge,
  type TlsEdgeOptions,
  tlsPolicy,
} from './support/tls.js';

// TLS termination (DECISIONS #15, #16, #17) over real TLS sockets against the real binary. Certificates are
// the test CA's (fixtures/tls/README.md); clients trust that CA only, so a wrong certificate fails loudly.

const { FR, GB } = clientIps;

// Signature algorithms a client offers (OpenSSL names): what decides which key type a server may sign with.
const rsaOnly = 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256';
const ecdsaOnly = 'ecdsa_secp256r1_sha256';

function sitesFor(originUrl: string, news: { cert: string; key: string } = pairOf('news-ecdsa')) {
  return [
    { name: 'shop', hosts: ['shop.example', 'www.shop.example'], origin: originUrl, tls: pairOf('shop-rsa') },
    {
      name: 'news',
      hosts: ['news.example', '*.news.example'],
      origin: originUrl,
      tls: news,
      redirectToHttps: true,
    },
    { name: 'others', hosts: ['motogpstream.me', 'plain.example'], origin: originUrl },
  ];
}

/** The edge with this file's sites unless a test gives its own. */
function startTlsEdge(
  options: Omit<TlsEdgeOptions, 'sites'> & { sites?: object[]; originUrl?: string } = {},
): Promise<TlsEdge> {
  const { originUrl = 'http://127.0.0.1:9', sites, ...rest } = options;
  return startEdgeWithTls({ ...rest, sites: sites ?? sitesFor(originUrl) });
}

type Handshake = { certificate: X509Certificate; keyType: string | undefined; protocol: string | null };

/**
 * One TLS handshake to the edge, then close. The client verifies the chain against the test CA and, when it
 * sends a server name, that the certificate is valid for it; any failure rejects.
 */
function handshake(
  port: number,
  options: { servername?: string; sigalgs?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      ca,
      ...options,
      // Without SNI there is no name to check the certificate against; the chain is still verified.
      ...(options.servername === undefined ? { checkServerIdentity: () => undefined } : {}),
    });
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerX509Certificate();
      const protocol = socket.getProtocol();
      socket.destroy();
      if (certificate === undefined) reject(new Error('no peer certificate'));
      else
        resolve({
          certificate,
          keyType: certificate.publicKey.asymmetricKeyType,
          protocol,
        });
    });
    socket.once('error', reject);
  });
}

const subjectOf = (answer: Handshake) => answer.certificate.subject;

describe('the certificate each client gets (DECISIONS #15)', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)(
    'every site gets its own certificate whatever the key types, with an ECDSA listener default (%s)',
    async (maxVersion) => {
      const { tlsPort } = await startTlsEdge();
      for (const [servername, subject, keyType] of [
        ['shop.example', 'CN=shop.example', 'rsa'],
        ['www.shop.example', 'CN=shop.example', 'rsa'],
        ['news.example', 'CN=news.example', 'ec'],
        ['live.news.example', 'CN=news.example', 'ec'],
      ] as const) {
        const answer = await handshake(tlsPort, { servername, maxVersion });
        expect({ servername, subject: subjectOf(answer), keyType: answer.keyType }).toEqual({
          servername,
          subject,
          keyType,
        });
        expect(answer.protocol).toBe(maxVersion);
      }
    },
  );

  it.each(['TLSv1.2', 'TLSv1.3'] as const)(
    'every site gets its own certificate whatever the key types, with an RSA listener default (%s)',
    async (maxVersion) => {
      const { tlsPort } = await startTlsEdge({ listenerPair: 'listener-default-rsa' });
      expect(subjectOf(await handshake(tlsPort, { servername: 'news.example', maxVersion }))).toBe(
        'CN=news.example',
      );
      expect(subjectOf(await handshake(tlsPort, { servername: 'shop.example', maxVersion }))).toBe(
        'CN=shop.example',
      );
      const unknown = await handshake(tlsPort, { maxVersion });
      expect([subjectOf(unknown), unknown.keyType]).toEqual(['CN=edge.example', 'rsa']);
    },
  );

  it("a client that offers only one key type gets its site's certificate, never another site's (nodejs/node#54235)", async () => {
    const { tlsPort } = await startTlsEdge();
    // The listener default is ECDSA: an RSA-only client asking for the RSA site must not fall back to it.
    const rsaClient = await handshake(tlsPort, { servername: 'shop.example', sigalgs: rsaOnly });
    expect([subjectOf(rsaClient), rsaClient.keyType]).toEqual(['CN=shop.example', 'rsa']);
    const ecdsaClient = await handshake(tlsPort, { servername: 'news.example', sigalgs: ecdsaOnly });
    expect([subjectOf(ecdsaClient), ecdsaClient.keyType]).toEqual(['CN=news.example', 'ec']);
    // A site whose certificate the client cannot verify: the handshake fails, no substitute is shown (an
    // ECDSA-only client asking for the RSA site would otherwise get the ECDSA listener default).
    await expect(handshake(tlsPort, { servername: 'shop.example', sigalgs: ecdsaOnly })).rejects.toThrow(
      /handshake failure/,
    );
    await expect(handshake(tlsPort, { servername: 'news.example', sigalgs: rsaOnly })).rejects.toThrow(
      /handshake failure/,
    );
  });

  it("unknown names, sites without a certificate and clients without SNI get the listener's certificate", async () => {
    const { tlsPort } = await startTlsEdge();
    const noSni = await handshake(tlsPort);
    expect([subjectOf(noSni), noSni.keyType]).toEqual(['CN=edge.example', 'ec']);
    for (const servername of ['unknown.example', 'plain.example', 'a.b.news.example.invalid']) {
      await expect(handshake(tlsPort, { servername })).rejects.toThrow(/Hostname\/IP does not match/);
    }
  });

  it('a ClientHello trickled in tiny TCP segments still gets the certificate for its server name', async () => {
    const { tlsPort } = await startTlsEdge();
    const tcp = connectTcp({ host: '127.0.0.1', port: tlsPort, noDelay: true });
    const trickle = new Duplex({
      read() {},
      async write(chunk: Buffer, _encoding, callback) {
        for (let start = 0; start < chunk.length; start += 7) {
          tcp.write(chunk.subarray(start, start + 7));
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        callback();
      },
    });
    tcp.on('data', (data) => trickle.push(data));
    tcp.on('end', () => trickle.push(null));
    const subject = await new Promise<string | undefined>((resolve, reject) => {
      const socket = connect({ socket: trickle, servername: 'shop.example', ca });
      socket.once('secureConnect', () => {
        resolve(socket.getPeerX509Certificate()?.subject);
        socket.destroy();
        tcp.destroy();
      });
      socket.once('error', reject);
    });
    expect(subject).toBe('CN=shop.example');
  });
});

describe('requests over TLS', () => {
  it('reach the origin with X-Forwarded-Proto https, and http on the plain listener', async () => {
    const origin = await startOrigin();
    const { httpUrl, tlsPort } = await startTlsEdge({ originUrl: origin.url });
    const overTls = await requestOverTls(tlsPort, {
      servername: 'shop.example',
      host: 'shop.example',
      path: '/a',
    });
    expect(overTls.status).toBe(200);
    expect(overTls.body).toBe('origin says hello to /a\n');
    const plain = await send(`${httpUrl}/b`, { headers: { host: 'shop.example' } });
    expect(plain.status).toBe(200);
    expect(origin.requests.map((seen) => [seen.url, seen.headers['x-forwarded-proto']])).toEqual([
      ['/a', 'https'],
      ['/b', 'http'],
    ]);
  });

  it('a blocked client gets the 451 over TLS, with its headers, and the origin never hears of it', async () => {
    const origin = await startOrigin();
    const { tlsPort } = await startTlsEdge({ originUrl: origin.url });
    const blocked = await requestOverTls(tlsPort, {
      servername: 'live.news.example',
      host: 'live.news.example',
      headers: { 'x-forwarded-for': FR, accept: 'application/json' },
    });
    expect(blocked.status).toBe(451);
    expect(blocked.headers.link).toBe('<https://edge.example/legal>; rel="blocked-by"');
    expect(blocked.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(blocked.body)).toMatchObject({
      order: { id: 'fr-2025-motogp' },
      host: 'live.news.example',
    });
    const allowed = await requestOverTls(tlsPort, {
      servername: 'live.news.example',
      host: 'live.news.example',
      headers: { 'x-forwarded-for': GB },
    });
    expect(allowed.status).toBe(200);
    expect(origin.requests).toHaveLength(1);
  });

  describe("a Host the connection's certificate does not cover (DECISIONS #16)", () => {
    it.each([
      ['blocked host, blocked client', 'motogpstream.me', FR, 451],
      ['blocked host, allowed client', 'motogpstream.me', GB, 421],
      ['allowed host without a certificate', 'plain.example', FR, 421],
      ["host served with another site's certificate", 'news.example', GB, 421],
      ["blocked host under another site's certificate", 'live.news.example', FR, 451],
    ])('%s: %s from %s over a shop.example connection gets %i', async (_case, host, ip, status) => {
      const origin = await startOrigin();
      const { tlsPort } = await startTlsEdge({ originUrl: origin.url });
      const answer = await requestOverTls(tlsPort, {
        servername: 'shop.example',
        host,
        headers: { 'x-forwarded-for': ip },
      });
      expect(answer.status).toBe(status);
      expect(origin.requests).toHaveLength(0);
    });

    it('a Host the certificate covers passes, whatever name the client sent in SNI', async () => {
      const origin = await startOrigin();
      const { tlsPort } = await startTlsEdge({ originUrl: origin.url });
      const answer = await requestOverTls(tlsPort, {
        servername: 'shop.example',
        host: 'www.shop.example',
        headers: { 'x-forwarded-for': GB },
      });
      expect(answer.status).toBe(200);
      expect(origin.requests).toHaveLength(1);
    });

    it('without SNI the listener certificate decides too: 451 for a blocked client, 421 for the rest', async () => {
      const { tlsPort } = await startTlsEdge();
      const ask = (ip: string) =>
        requestOverTls(tlsPort, {
          servername: '',
          host: 'motogpstream.me',
          headers: { 'x-forwarded-for': ip },
        });
      expect((await ask(FR)).status).toBe(451);
      expect((await ask(GB)).status).toBe(421);
    });
  });

  describe('redirectToHttps', () => {
    it('an http request to the site gets 308 to the same host and path on the TLS listener', async () => {
      const origin = await startOrigin();
      const { httpUrl, tlsPort } = await startTlsEdge({ originUrl: origin.url });
      const answer = await send(`${httpUrl}/page?x=1`, {
        headers: { host: 'News.Example', 'x-forwarded-for': GB },
      });
      expect(answer.status).toBe(308);
      expect(answer.headers.location).toBe(`https://news.example:${tlsPort}/page?x=1`);
      const followed = await requestOverTls(tlsPort, {
        servername: 'news.example',
        host: 'news.example',
        path: '/page?x=1',
      });
      expect(followed.status).toBe(200);
      expect(origin.requests.map((seen) => seen.url)).toEqual(['/page?x=1']);
    });

    it('a blocked client gets 451, not a redirect', async () => {
      const { httpUrl } = await startTlsEdge();
      const answer = await send(`${httpUrl}/`, {
        headers: { host: 'live.news.example', 'x-forwarded-for': FR },
      });
      expect(answer.status).toBe(451);
      expect(answer.headers.location).toBeUndefined();
    });

    it("sites without the option are served over http, and a trusted proxy's X-Forwarded-Proto: https is not redirected", async () => {
      const origin = await startOrigin();
      const { httpUrl } = await startTlsEdge({ originUrl: origin.url });
      expect((await send(`${httpUrl}/`, { headers: { host: 'shop.example' } })).status).toBe(200);
      const terminatedInFront = await send(`${httpUrl}/`, {
        headers: { host: 'news.example', 'x-forwarded-for': GB, 'x-forwarded-proto': 'https' },
      });
      expect(terminatedInFront.status).toBe(200);
      expect(origin.requests).toHaveLength(2);
    });
  });
});

const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber;
const originalSerial = serialOf(fixture('news-ecdsa.pem'));
const renewedSerial = serialOf(fixture('news-ecdsa-renewed.pem'));

/**
 * Handshakes for news.example every 50 ms until the served serial is `serial` or 5 s have passed
 * (DECISIONS #17); every handshake on the way must succeed. The serials seen, in order, without repeats.
 */
async function handshakesUntilSerial(port: number, serial: string): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const served = (await handshake(port, { servername: 'news.example' })).certificate.serialNumber;
    if (seen.at(-1) !== served) seen.push(served);
    if (served === serial) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return seen;
}

describe('certificate renewals (DECISIONS #17)', () => {
  it('files renamed over the old ones are served within 5 s, without a restart or a failed handshake', async () => {
    const dir = await tempDir();
    await copyFile(fixture('news-ecdsa.pem'), join(dir, 'news-fullchain.pem'));
    await copyFile(fixture('news-ecdsa-key.pem'), join(dir, 'news-privkey.pem'));
    const { edge, tlsPort } = await startTlsEdge({
      dir,
      sites: sitesFor('http://127.0.0.1:9', { cert: 'news-fullchain.pem', key: 'news-privkey.pem' }),
    });
    expect((await handshake(tlsPort, { servername: 'news.example' })).certificate.serialNumber).toBe(
      originalSerial,
    );

    for (const [source, target] of [
      ['news-ecdsa-renewed-key.pem', 'news-privkey.pem'],
      ['news-ecdsa-renewed.pem', 'news-fullchain.pem'],
    ] as const) {
      await copyFile(fixture(source), join(dir, `${target}.new`));
      await rename(join(dir, `${target}.new`), join(dir, target));
    }
    expect(await handshakesUntilSerial(tlsPort, renewedSerial)).toEqual([originalSerial, renewedSerial]);
    const logged = await edge.waitForLog((line) => line.msg === 'certificate renewed');
    expect(logged).toMatchObject({ serial: renewedSerial, previous_serial: originalSerial, key_type: 'ec' });
    expect(edge.process.exitCode).toBeNull();
  });

  it("certbot's live/ symlinks re-pointed at new archive/ files are served within 5 s", async () => {
    const dir = await tempDir();
    const archive = join(dir, 'archive/news.example');
    const live = join(dir, 'live/news.example');
    await mkdir(archive, { recursive: true });
    await mkdir(live, { recursive: true });
    for (const [source, target] of [
      ['news-ecdsa.pem', 'fullchain1.pem'],
      ['news-ecdsa-key.pem', 'privkey1.pem'],
    ] as const) {
      await copyFile(fixture(source), join(archive, target));
    }
    await symlink('../../archive/news.example/fullchain1.pem', join(live, 'fullchain.pem'));
    await symlink('../../archive/news.example/privkey1.pem', join(live, 'privkey.pem'));
    const { tlsPort } = await startTlsEdge({
      dir,
      sites: sitesFor('http://127.0.0.1:9', {
        cert: 'live/news.example/fullchain.pem',
        key: 'live/news.example/privkey.pem',
      }),
    });
    expect((await handshake(tlsPort, { servername: 'news.example' })).certificate.serialNumber).toBe(
      originalSerial,
    );

    // What `certbot renew` does: new numbered files in archive/, then each live/ link replaced.
    await copyFile(fixture('news-ecdsa-renewed.pem'), join(archive, 'fullchain2.pem'));
    await copyFile(fixture('news-ecdsa-renewed-key.pem'), join(archive, 'privkey2.pem'));
    for (const name of ['fullchain', 'privkey']) {
      await unlink(join(live, `${name}.pem`));
      await symlink(`../../archive/news.example/${name}2.pem`, join(live, `${name}.pem`));
    }
    expect(await handshakesUntilSerial(tlsPort, renewedSerial)).toEqual([originalSerial, renewedSerial]);
  });

  it('a broken renewal (garbage PEM) is refused and logged; the previous certificate stays', async () => {
    const dir = await tempDir();
    await copyFile(fixture('news-ecdsa.pem'), join(dir, 'news-fullchain.pem'));
    await copyFile(fixture('news-ecdsa-key.pem'), join(dir, 'news-privkey.pem'));
    const { edge, tlsPort } = await startTlsEdge({
      dir,
      sites: sitesFor('http://127.0.0.1:9', { cert: 'news-fullchain.pem', key: 'news-privkey.pem' }),
    });
    await writeFile(
      join(dir, 'garbage.pem'),
      '-----BEGIN CERTIFICATE-----\nrenewal went wrong\n-----END CERTIFICATE-----\n',
    );
    await rename(join(dir, 'garbage.pem'), join(dir, 'news-fullchain.pem'));
    const refused = await edge.waitForLog(
      (line) => line.msg === 'certificate renewal refused; the previous certificate stays in use',
      5_000,
    );
    expect(refused).toMatchObject({
      level: 50,
      code: 'EDGE_TLS_CERT_INVALID',
      file: join(dir, 'news-fullchain.pem'),
      serial: originalSerial,
    });
    const after = await handshake(tlsPort, { servername: 'news.example' });
    expect(after.certificate.serialNumber).toBe(originalSerial);
  });
});

describe('cluster mode', () => {
  it('with workers: 2 every worker terminates TLS with the site certificates and answers 451 over it', async () => {
    const { tlsPort } = await startTlsEdge({ extra: { workers: 2 } });
    const workers = new Set<string>();
    await until(async () => {
      const answer = await requestOverTls(tlsPort, {
        servername: 'live.news.example',
        host: 'live.news.example',
        headers: { 'x-forwarded-for': FR, accept: 'application/json' },
      });
      expect(answer.status).toBe(451);
      workers.add(workerOf((JSON.parse(answer.body) as { requestId: string }).requestId));
      return workers.size === 2;
    }, 'two workers answered over TLS');
    for (let connection = 0; connection < 6; connection += 1) {
      const answer = await handshake(tlsPort, {
        servername: connection % 2 === 0 ? 'shop.example' : 'news.example',
      });
      expect(answer.keyType).toBe(connection % 2 === 0 ? 'rsa' : 'ec');
    }
  });
});

describe('config errors', () => {
  it('name the config file, the key, the certificate file and what was expected; check and start both refuse', async () => {
    const dir = await tempDir({
      'garbage.pem': '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n',
      'policy.yaml': tlsPolicy,
    });
    const config = testConfig({
      listen: [
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 0, tls: { cert: pairOf('shop-rsa').cert, key: pairOf('news-ecdsa').key } },
      ],
      sites: [
        {
          hosts: ['shop.example'],
          origin: 'http://127.0.0.1:9',
          tls: { cert: 'missing.pem', key: 'missing-key.pem' },
        },
        {
          hosts: ['news.example'],
          origin: 'http://127.0.0.1:9',
          tls: { cert: 'garbage.pem', key: pairOf('news-ecdsa').key },
        },
      ],
      policy: { files: ['policy.yaml'] },
    });
    const configFile = join(dir, 'edge451.yaml');
    await writeFile(configFile, stringify(config));
    const check = await runCli(['check', '--config', configFile]);
    expect(check.code).toBe(1);
    const report = check.stderr.replaceAll(dir, '<dir>').replaceAll(fixture(''), '<fixtures>/');
    expect(report).toMatchInlineSnapshot(`
      "<dir>/edge451.yaml:8: listen[1].tls.key: <fixtures>/news-ecdsa-key.pem does not match the certificate in <fixtures>/shop-rsa.pem: expected the private key of that certificate
      <dir>/edge451.yaml:27: sites[0].tls.cert: cannot read <dir>/missing.pem (ENOENT): expected a PEM certificate chain
      <dir>/edge451.yaml:33: sites[1].tls.cert: certificate 1 in <dir>/garbage.pem does not parse: expected PEM certificates, leaf first, as in certbot's fullchain.pem
      3 problem(s) found
      "
    `);
    const start = await runCli(['start', '--config', configFile]);
    expect(start.code).toBe(1);
    expect(start.stderr).toBe(check.stderr);
  });
});
