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
  client: PassThrough | null,
  options: TeeOptions,
): Promise<Buffer | NotStoredReason> {
  const { maxEntryBytes, budget, expectedBytes, onAbandon } = options;
  let chunks: Buffer[] = [];
  let size = 0;
  let abandoned: NotStoredReason | undefined;
  const abandon = (reason: NotStoredReason) => {
    if (abandoned !== undefined) return;
    abandoned = reason;
    releaseAsTaken(budget, size, client);
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
  releaseAsTaken(budget, size, client);
  return body;
}

/**
 * Gives back the `size` bytes a fill held, except those still queued for its client. While collecting, the
 * client is written to without waiting (so a slow client does not slow the fill), so its queue holds the
 * very chunks the fill held; they stay in memory, whatever the cache does with its copy, until the client
 * has taken them. They stay counted in the budget until its stream closes: a client that stops reading
 * then holds budget, not unaccounted memory, and once stalled clients hold it all, new fills stream
 * through with backpressure (`fill-limit`) instead of piling more up. (40 stalled clients of distinct
 * 7.5 MiB misses grew the RSS by ~170 MiB before; clientTimeouts.sendMs ends such connections.)
 */
function releaseAsTaken(budget: FillBudget, size: number, client: PassThrough | null): void {
  const queued = client === null || client.destroyed ? 0 : client.writableLength + client.readableLength;
  const held = Math.min(size, queued);
  budget.release(size - held);
  if (held > 0) client?.once('close', () => budget.release(held));
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
