import type { ClientRequest } from 'node:http';
import type { CancelSignal } from '@edge451/cache';

/**
 * node:http's `signal` option takes only an AbortSignal; the cache's signals may be its lighter
 * Cancellation. Destroys `outgoing` with an `AbortError` when `signal` aborts, as that option would.
 */
export function abortOnCancel(outgoing: ClientRequest, signal: CancelSignal): void {
  const abort = () => {
    const error = new Error('the request was aborted', { cause: signal.reason });
    error.name = 'AbortError';
    outgoing.destroy(error);
  };
  if (signal.aborted) {
    abort();
    return;
  }
  signal.addEventListener('abort', abort, { once: true });
  outgoing.once('close', () => signal.removeEventListener('abort', abort));
}
