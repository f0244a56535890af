import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { cacheRequest, fetchThrough } from './support/client.js';
import { fetchFrom } from './support/fetch-origin.js';
import { type OriginHandler, startOrigin } from './support/origin.js';

const MiB = 1024 * 1024;
const BODY_BYTES = 50 * MiB;
const CHUNK = Buffer.alloc(64 * 1024, 'z');

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Memory that a buffered body would occupy: heap plus Buffers, after a full collection. */
function retainedBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** An origin streaming a 50 MiB body in 64 KiB chunks, honouring backpressure, with or without Content-Length. */
function bigBody(withLength: boolean): OriginHandler {
  return async (_request, response) => {
    response.writeHead(200, {
      'cache-control': 'max-age=60',
      ...(withLength ? { 'content-length': String(BODY_BYTES) } : {}),
    });
    for (let sent = 0; sent < BODY_BYTES; sent += CHUNK.length) {
      if (!response.write(CHUNK)) await new Promise((resolve) => response.once('drain', resolve));
    }
    response.end();
  };
}

/** Reads a reply body, sampling retained memory every 5 MiB; returns bytes read and the peak growth. */
async function readMeasuring(
  body: Readable,
  baseline: number,
): Promise<{ bytes: number; peakGrowth: number }> {
  let bytes = 0;
  let nextSample = 5 * MiB;
  let peakGrowth = 0;
  for await (const chunk of body) {
    bytes += (chunk as Buffer).length;
    if (bytes >= nextSample) {
      nextSample += 5 * MiB;
      peakGrowth = Math.max(peakGrowth, retainedBytes() - baseline);
    }
  }
  return { bytes, peakGrowth };
}

describe('streaming', () => {
  test('a body announced larger than maxEntryBytes streams through uncached, never buffered whole', async () => {
    const origin = await startOrigin(bigBody(true));
    const cache = createHttpCache({ maxBytes: 16 * MiB, maxEntryBytes: 4 * MiB });
    const baseline = retainedBytes();
    const reply = await cache.serve(
      cacheRequest('/huge'),
      fetchFrom(origin.port, '/huge'),
      new AbortController().signal,
    );
    expect(reply).toMatchObject({ status: 200, outcome: 'miss', notStored: 'too-large' });
    expect(reply.cacheStatus).toBe('edge451; fwd=uri-miss; fwd-status=200; detail=too-large');
    const { bytes, peakGrowth } = await readMeasuring(reply.body as Readable, baseline);
    expect(bytes).toBe(BODY_BYTES);
    expect(peakGrowth).toBeLessThan(12 * MiB);
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 0 });
  });

  test('a body of exactly maxEntryBytes is stored (the limit is on the body; headers are accounted besides)', async () => {
    const body = Buffer.alloc(MiB, 'b');
    const origin = await startOrigin((_request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': body.length }).end(body);
    });
    const cache = createHttpCache({ maxBytes: 16 * MiB, maxEntryBytes: MiB });
    await (await fetchThrough(cache, origin, cacheRequest('/exact'))).storing;
    const again = await fetchThrough(cache, origin, cacheRequest('/exact'));
    expect(again).toMatchObject({ outcome: 'hit', text: body.toString() });
    expect(origin.count()).toBe(1);
  });

  test('a body without Content-Length is stored until it outgrows maxEntryBytes, then streams through with bounded memory', async () => {
    const origin = await startOrigin(bigBody(false));
    const cache = createHttpCache({ maxBytes: 16 * MiB, maxEntryBytes: 4 * MiB });
    const baseline = retainedBytes();
    const reply = await cache.serve(
      cacheRequest('/chunked'),
      fetchFrom(origin.port, '/chunked'),
      new AbortController().signal,
    );
    expect(reply.cacheStatus).toBe('edge451; fwd=uri-miss; fwd-status=200; stored; ttl=60');
    const { bytes, peakGrowth } = await readMeasuring(reply.body as Readable, baseline);
    expect(bytes).toBe(BODY_BYTES);
    expect(peakGrowth).toBeLessThan(16 * MiB);
    expect(await reply.storing).toBe('too-large');
    expect(cache.stats.entries).toBe(0);
  });

  test('the client receives the first bytes before the origin has finished sending', async () => {
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const origin = await startOrigin(async (_request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=60' });
      response.write('early ');
      await finished;
      response.end('late');
    });
    const cache = createHttpCache();
    const reply = await cache.serve(
      cacheRequest('/s'),
      fetchFrom(origin.port, '/s'),
      new AbortController().signal,
    );
    const body = reply.body as Readable;
    const [first] = (await body.take(1).toArray()) as Buffer[];
    expect(first?.toString()).toBe('early ');
    finish();
    expect(await reply.storing).toBe('stored');
    expect((await fetchThrough(cache, origin, cacheRequest('/s'))).text).toBe('early late');
  });

  test('a body that ends short of its Content-Length is passed on but not stored', async () => {
    const origin = await startOrigin((_request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '100' });
      response.write('only twenty bytes...', () => response.socket?.destroy());
    });
    const cache = createHttpCache();
    const reply = await cache.serve(
      cacheRequest('/short'),
      fetchFrom(origin.port, '/short'),
      new AbortController().signal,
    );
    await expect((reply.body as Readable).toArray()).rejects.toThrow();
    expect(await reply.storing).toBe('incomplete');
    expect(cache.stats.entries).toBe(0);
  });

  test('the bytes stored are exactly the bytes the origin sent', async () => {
    const payload = Buffer.from(Array.from({ length: 300_000 }, (_, index) => (index * 7) % 256));
    const origin = await startOrigin((_request, response) => {
      response
        .writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' })
        .end(payload);
    });
    const cache = createHttpCache();
    const miss = await cache.serve(
      cacheRequest('/bin'),
      fetchFrom(origin.port, '/bin'),
      new AbortController().signal,
    );
    expect(Buffer.concat((await (miss.body as Readable).toArray()) as Buffer[]).equals(payload)).toBe(true);
    await miss.storing;
    const hit = await cache.serve(
      cacheRequest('/bin'),
      fetchFrom(origin.port, '/bin'),
      new AbortController().signal,
    );
    expect(Buffer.isBuffer(hit.body) && hit.body.equals(payload)).toBe(true);
  });
});
