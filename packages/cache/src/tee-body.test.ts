import { PassThrough, Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { createFillBudget } from './fill-budget.js';
import { teeBody } from './tee-body.js';
import type { NotStoredReason } from './types.js';

/** A source that counts how many chunks were pulled from it. */
function countingSource(chunks: number, chunkBytes: number): Readable & { pulled: number } {
  let index = 0;
  const source = new Readable({
    read() {
      if (index === chunks) this.push(null);
      else {
        index += 1;
        source.pulled = index;
        this.push(Buffer.alloc(chunkBytes, 'x'));
      }
    },
  }) as Readable & { pulled: number };
  source.pulled = 0;
  return source;
}

const options = (overrides: Partial<Parameters<typeof teeBody>[1]> = {}) => ({
  withClient: true,
  maxEntryBytes: 1000,
  budget: createFillBudget(10_000),
  expectedBytes: undefined,
  onAbandon: () => {},
  ...overrides,
});

describe('teeBody', () => {
  test('the client gets every byte and the store gets the same body', async () => {
    const teed = teeBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), options());
    const client = Buffer.concat((await teed.clientBody?.toArray()) as Buffer[]).toString();
    expect(client).toBe('abcd');
    expect(((await teed.collected) as Buffer).toString()).toBe('abcd');
  });

  test('past maxEntryBytes storing is abandoned once, and the rest still streams to the client', async () => {
    const abandoned: NotStoredReason[] = [];
    const teed = teeBody(countingSource(10, 300), options({ onAbandon: (reason) => abandoned.push(reason) }));
    const client = Buffer.concat((await teed.clientBody?.toArray()) as Buffer[]);
    expect(client.length).toBe(3000);
    expect(await teed.collected).toBe('too-large');
    expect(abandoned).toEqual(['too-large']);
  });

  test('once storing is abandoned a slow client holds the origin back: reading stops while the client does not read', async () => {
    const source = countingSource(1000, 1024);
    const teed = teeBody(source, options({ maxEntryBytes: 4096 }));
    const client = teed.clientBody as PassThrough;
    for (let turn = 0; turn < 1000 && !client.writableNeedDrain; turn += 1)
      await new Promise((resolve) => setImmediate(resolve));
    for (let turn = 0; turn < 50; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    // Far less than the 1000 chunks were pulled: the client's buffer filled up and reading paused.
    expect(source.pulled).toBeLessThan(64);
    teed.clientBody?.resume();
    expect(await teed.collected).toBe('too-large');
    expect(source.pulled).toBe(1000);
  });

  test('without a client, abandoning the fill stops reading and destroys the origin body', async () => {
    const source = countingSource(1000, 1024);
    const teed = teeBody(source, options({ withClient: false, maxEntryBytes: 4096 }));
    expect(teed.clientBody).toBeNull();
    expect(await teed.collected).toBe('too-large');
    expect(source.destroyed).toBe(true);
    expect(source.pulled).toBeLessThan(1000);
  });

  test('a client that leaves mid-body does not stop the fill', async () => {
    const source = new PassThrough();
    const teed = teeBody(source, options());
    source.write('first ');
    teed.clientBody?.destroy();
    source.end('second');
    expect(((await teed.collected) as Buffer).toString()).toBe('first second');
  });

  test('an origin failure mid-body reaches the client as an error and nothing is stored', async () => {
    const source = new PassThrough();
    const teed = teeBody(source, options());
    source.write('partial');
    source.destroy(new Error('origin reset'));
    await expect(teed.clientBody?.toArray()).rejects.toThrow('origin reset');
    expect(await teed.collected).toBe('incomplete');
  });

  test('a body shorter than its Content-Length is not stored', async () => {
    const teed = teeBody(Readable.from([Buffer.from('abc')]), options({ expectedBytes: 10 }));
    await teed.clientBody?.toArray();
    expect(await teed.collected).toBe('incomplete');
  });

  test('the fill budget is shared: a fill that would exceed it is abandoned and its bytes given back', async () => {
    const budget = createFillBudget(1000);
    expect(budget.tryReserve(800)).toBe(true);
    const teed = teeBody(countingSource(3, 100), options({ budget }));
    await teed.clientBody?.toArray();
    expect(await teed.collected).toBe('fill-limit');
    expect(budget.bytesInUse).toBe(800);
  });

  test('bytes still queued for a client that has not read them stay in the fill budget until its stream closes, stored or not', async () => {
    // Stored whole, or abandoned as too large after 1,000 bytes (the rest streamed with backpressure).
    for (const [maxEntryBytes, held] of [
      [10_000, 2000],
      [1000, 1000],
    ]) {
      const budget = createFillBudget(10_000);
      const teed = teeBody(countingSource(4, 500), options({ budget, maxEntryBytes }));
      await teed.collected;
      expect(budget.bytesInUse).toBe(held);
      await teed.clientBody?.toArray();
      expect(budget.bytesInUse).toBe(0);
    }
  });

  test('a client that has read everything leaves nothing held once the body is stored', async () => {
    const budget = createFillBudget(10_000);
    const teed = teeBody(countingSource(4, 500), options({ budget, maxEntryBytes: 10_000 }));
    const read = teed.clientBody?.toArray();
    await read;
    expect(((await teed.collected) as Buffer).length).toBe(2000);
    expect(budget.bytesInUse).toBe(0);
  });
});
