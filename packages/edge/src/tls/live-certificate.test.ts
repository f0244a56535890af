import { X509Certificate } from 'node:crypto';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  symlink,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { LiveCertificate } from './live-certificate.js';

const fixtures = fileURLToPath(new URL('../../../../fixtures/tls/', import.meta.url));
const fixture = (name: string) => join(fixtures, name);
const serialOf = async (file: string) => new X509Certificate(await readFile(file)).serialNumber;
const originalSerial = await serialOf(fixture('news-ecdsa.pem'));
const renewedSerial = await serialOf(fixture('news-ecdsa-renewed.pem'));

async function tempFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edge451-live-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A pair in a temp folder, as a tool that renames finished files into place leaves it. */
async function renamedPair() {
  const dir = await tempFolder();
  const files = { cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
  await copyFile(fixture('news-ecdsa.pem'), files.cert);
  await copyFile(fixture('news-ecdsa-key.pem'), files.key);
  const renameOver = async (source: string, target: string) => {
    await copyFile(source, `${target}.tmp`);
    await rename(`${target}.tmp`, target);
  };
  return { dir, files, renameOver };
}

describe('LiveCertificate', () => {
  it('takes a pair renamed over the old files once they look the same on two polls', async () => {
    const { files, renameOver } = await renamedPair();
    const live = LiveCertificate.open(files);
    expect(await live.poll()).toBeUndefined();
    await renameOver(fixture('news-ecdsa-renewed-key.pem'), files.key);
    await renameOver(fixture('news-ecdsa-renewed.pem'), files.cert);
    expect(await live.poll()).toBeUndefined();
    expect(live.current.leaf.serialNumber).toBe(originalSerial);
    const event = await live.poll();
    expect(event).toMatchObject({ ok: true });
    if (event?.ok !== true) return;
    expect(event.before.leaf.serialNumber).toBe(originalSerial);
    expect(event.after.leaf.serialNumber).toBe(renewedSerial);
    expect(live.current.leaf.serialNumber).toBe(renewedSerial);
  });

  it("follows certbot's live/ symlinks when they are re-pointed at new archive/ files", async () => {
    const dir = await tempFolder();
    await mkdir(join(dir, 'archive/news.example'), { recursive: true });
    await mkdir(join(dir, 'live/news.example'), { recursive: true });
    for (const [name, source] of [
      ['fullchain1.pem', 'news-ecdsa.pem'],
      ['privkey1.pem', 'news-ecdsa-key.pem'],
      ['fullchain2.pem', 'news-ecdsa-renewed.pem'],
      ['privkey2.pem', 'news-ecdsa-renewed-key.pem'],
    ] as const) {
      await copyFile(fixture(source), join(dir, 'archive/news.example', name));
    }
    const files = {
      cert: join(dir, 'live/news.example/fullchain.pem'),
      key: join(dir, 'live/news.example/privkey.pem'),
    };
    await symlink('../../archive/news.example/fullchain1.pem', files.cert);
    await symlink('../../archive/news.example/privkey1.pem', files.key);
    const live = LiveCertificate.open(files);
    // certbot's renewal: the archive files exist first, then each live/ link is replaced.
    for (const [link, target] of [
      [files.cert, '../../archive/news.example/fullchain2.pem'],
      [files.key, '../../archive/news.example/privkey2.pem'],
    ] as const) {
      await unlink(link);
      await symlink(target, link);
    }
    expect(await live.poll()).toBeUndefined();
    expect(await live.poll()).toMatchObject({ ok: true });
    expect(live.current.leaf.serialNumber).toBe(renewedSerial);
  });

  it('refuses a garbage renewal once, keeps the previous pair, and takes the next good one', async () => {
    const { dir, files, renameOver } = await renamedPair();
    const live = LiveCertificate.open(files);
    await writeFile(
      join(dir, 'garbage.pem'),
      '-----BEGIN CERTIFICATE-----\nnot base64 !\n-----END CERTIFICATE-----\n',
    );
    await renameOver(join(dir, 'garbage.pem'), files.cert);
    await live.poll();
    const refused = await live.poll();
    expect(refused).toMatchObject({
      ok: false,
      problem: { code: 'EDGE_TLS_CERT_INVALID', file: files.cert },
    });
    expect(live.current.leaf.serialNumber).toBe(originalSerial);
    expect(await live.poll()).toBeUndefined();
    expect(await live.poll()).toBeUndefined();

    await renameOver(fixture('news-ecdsa-renewed.pem'), files.cert);
    await renameOver(fixture('news-ecdsa-renewed-key.pem'), files.key);
    await live.poll();
    expect(await live.poll()).toMatchObject({ ok: true });
    expect(live.current.leaf.serialNumber).toBe(renewedSerial);
  });

  it('a renewal caught halfway (new certificate, old key) is refused, then taken when the key arrives', async () => {
    const { files, renameOver } = await renamedPair();
    const live = LiveCertificate.open(files);
    await renameOver(fixture('news-ecdsa-renewed.pem'), files.cert);
    await live.poll();
    expect(await live.poll()).toMatchObject({ ok: false, problem: { code: 'EDGE_TLS_KEY_MISMATCH' } });
    expect(live.current.leaf.serialNumber).toBe(originalSerial);
    await renameOver(fixture('news-ecdsa-renewed-key.pem'), files.key);
    await live.poll();
    expect(await live.poll()).toMatchObject({ ok: true });
  });

  it('a file touched without new content is not a renewal', async () => {
    const { files } = await renamedPair();
    const live = LiveCertificate.open(files);
    const before = live.current;
    await utimes(files.cert, new Date(), new Date(Date.now() + 5_000));
    await live.poll();
    expect(await live.poll()).toBeUndefined();
    expect(live.current).toBe(before);
  });
});
