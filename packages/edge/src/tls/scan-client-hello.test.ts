import { Duplex } from 'node:stream';
import { connect } from 'node:tls';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanClientHello } from './scan-client-hello.js';

/** The first bytes Node's own TLS client sends (its ClientHello), captured without a network. */
async function captureClientHello(options: { servername?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }) {
  return new Promise<Buffer>((resolve) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        resolve(chunk);
        callback();
        // The hello is written while connect() is still running: close on the next turn.
        setImmediate(() => client.destroy());
      },
    });
    const client = connect({ socket: wire, rejectUnauthorized: false, ...options });
    client.on('error', () => undefined);
  });
}

/** The same handshake bytes, cut into `pieces` TLS records (RFC 8446 §5.1 allows fragmenting a ClientHello). */
function asRecords(hello: Buffer, pieces: number): Buffer {
  const handshake = hello.subarray(5);
  const size = Math.ceil(handshake.length / pieces);
  const records: Buffer[] = [];
  for (let start = 0; start < handshake.length; start += size) {
    const fragment = handshake.subarray(start, start + size);
    const header = Buffer.from([22, 3, 1, 0, 0]);
    header.writeUInt16BE(fragment.length, 3);
    records.push(header, fragment);
  }
  return Buffer.concat(records);
}

describe('scanClientHello', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('reads the server name a %s client sends', async (maxVersion) => {
    const hello = await captureClientHello({ servername: 'shop.example', maxVersion });
    expect(scanClientHello(hello)).toEqual({ status: 'complete', serverName: 'shop.example' });
  });

  it('says there is no server name when the client sent none', async () => {
    const hello = await captureClientHello({});
    expect(scanClientHello(hello)).toEqual({ status: 'complete', serverName: undefined });
  });

  it('asks for more bytes on every prefix, and never for fewer than it has', async () => {
    const hello = await captureClientHello({ servername: 'news.example' });
    for (let length = 0; length < hello.length; length += 1) {
      const scan = scanClientHello(hello.subarray(0, length));
      expect(scan.status).toBe('incomplete');
      if (scan.status === 'incomplete') expect(scan.bytesNeeded).toBeGreaterThan(length);
    }
  });

  it('reassembles a ClientHello fragmented across several records', async () => {
    const hello = await captureClientHello({ servername: 'a.news.example' });
    for (const pieces of [2, 3, 7, 16]) {
      expect(scanClientHello(asRecords(hello, pieces))).toEqual({
        status: 'complete',
        serverName: 'a.news.example',
      });
    }
    expect(scanClientHello(asRecords(hello, 17))).toMatchObject({ status: 'invalid' });
  });

  it('refuses what is not a TLS handshake, such as plain HTTP sent to a TLS port', () => {
    expect(scanClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n'))).toEqual({
      status: 'invalid',
      reason: 'not a TLS handshake',
    });
    expect(scanClientHello(Buffer.from([22, 3, 1, 0x40, 0x01]))).toEqual({
      status: 'invalid',
      reason: 'a handshake record of 16385 bytes',
    });
  });

  it('never throws, whatever the bytes: random input and corrupted real ClientHellos', async () => {
    const hello = await captureClientHello({ servername: 'shop.example' });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expect(['incomplete', 'complete', 'invalid']).toContain(scanClientHello(Buffer.from(bytes)).status);
      }),
    );
    fc.assert(
      fc.property(fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 }), (index, value) => {
        const corrupted = Buffer.from(hello);
        corrupted[index] = value;
        expect(['incomplete', 'complete', 'invalid']).toContain(scanClientHello(corrupted).status);
      }),
      { numRuns: 2_000 },
    );
  });
});
