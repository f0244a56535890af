import { describe, expect, it } from 'vitest';
import { ClientAbort } from './client-abort.js';

describe('ClientAbort', () => {
  it('aborts a signal handed out before the client went', () => {
    const abort = new ClientAbort();
    const signal = abort.signal;
    expect(signal.aborted).toBe(false);
    abort.abort();
    expect(signal.aborted).toBe(true);
    expect(abort.aborted).toBe(true);
  });

  it('hands out an already aborted signal after the client went', () => {
    const abort = new ClientAbort();
    abort.abort();
    expect(abort.aborted).toBe(true);
    expect(abort.signal.aborted).toBe(true);
  });

  it('hands out one signal per request', () => {
    const abort = new ClientAbort();
    expect(abort.signal).toBe(abort.signal);
  });
});
