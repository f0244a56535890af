import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { FillBudget } from './fill-budget.js';
import type { NotStoredReason } from './types.js';

/** Options of `teeBody`. */
export interface TeeOptions {
  /** Give the client a stream of the body; false when nobody is there to read it (HEAD, 304, left). */
  withClient: boolean;
  maxEntryBytes: number;
  budget: FillBudget;
  /** The origin's Content-Length, when it sent one: a body that ends short of it is not stored. */
  expectedBytes: number | undefined;
  /** Called once, as soon as storing is abandoned (so coalesced waiters are released at once). */
  onAbandon: (reason: NotStoredReason) => void;
}

/** The two branches of a tee'd origin body. */
export interface TeedBody {
  /** What the client reads; `null` without a client. */
  clientBody: PassThrough | null;
  /** The whole body once it has ended, or why it will not be stored. Never rejects. */
  collected: Promise<Buffer | NotStoredReason>;
}

/**
 * Streams an origin body to the client while collecting it for the store. While the body is being
 * collected it is held in memory anyway, so a slow client does not slow the fill (waiters are waiting for
 * it); once it passes `maxEntryBytes` (or the fill budget), collecting stops, the held chunks are let go,
 * and the rest streams through with backpressure: memory stays bounded whatever the body's size. Without a
 * client and without storing, reading stops and the origin body is destroyed.
 */
export function teeBody(source: Readable, options: TeeOptions): TeedBody {
  const clientBody = options.withClient ? new PassThrough() : null;
  // A failing origin must never become an unhandled 'error' event; the edge's pipeline still sees it.
  clientBody?.on('error', () => {});
  return { clientBody, collected: pump(source, clientBody, options) };
}

async function pump(
  source: Readable,
  client: Writable | null,
  options: TeeOptions,
): Promise<Buffer | NotStoredReason> {
  const { maxEntryBytes, budget, expectedBytes, onAbandon } = options;
  let chunks: Buffer[] = [];
  let size = 0;
  let abandoned: NotStoredReason | undefined;
  const abandon = (reason: NotStoredReason) => {
    if (abandoned !== undefined) return;
    abandoned = reason;
    budget.release(size);
    chunks = [];
    size = 0;
    onAbandon(reason);
  };

  try {
    for await (const data of source as AsyncIterable<Buffer | string>) {
      const chunk = typeof data === 'string' ? Buffer.from(data) : data;
      if (abandoned === undefined) {
        if (size + chunk.length > maxEntryBytes) abandon('too-large');
        else if (!budget.tryReserve(chunk.length)) abandon('fill-limit');
        else {
          chunks.push(chunk);
          size += chunk.length;
        }
      }
      if (client === null || client.destroyed) {
        if (abandoned !== undefined) break; // nobody reads, nothing to keep: leaving the loop destroys the source
        continue;
      }
      if (!client.write(chunk) && abandoned !== undefined) await drainedOrClosed(client);
    }
  } catch (error) {
    client?.destroy(error instanceof Error ? error : new Error(String(error)));
    abandon('incomplete');
    return 'incomplete';
  }
  if (client !== null && !client.destroyed) client.end();
  if (abandoned !== undefined) return abandoned;
  if (expectedBytes !== undefined && size !== expectedBytes) {
    abandon('incomplete');
    return 'incomplete';
  }
  const body = Buffer.concat(chunks, size);
  budget.release(size);
  return body;
}

function drainedOrClosed(stream: Writable): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
