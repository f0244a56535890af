import { describe, expect, it, vi } from 'vitest';
import { Cancellation } from './cancellation.js';

describe('Cancellation', () => {
  it('runs its listeners once, in order, when first aborted, with an AbortError by default', () => {
    const cancellation = new Cancellation();
    const calls: string[] = [];
    cancellation.addEventListener('abort', () => calls.push('first'));
    cancellation.addEventListener('abort', () => calls.push('second'));
    expect(cancellation.aborted).toBe(false);
    cancellation.abort();
    cancellation.abort(new Error('again'));
    expect(calls).toEqual(['first', 'second']);
    expect(cancellation.aborted).toBe(true);
    expect(cancellation.reason).toBeInstanceOf(DOMException);
    expect((cancellation.reason as DOMException).name).toBe('AbortError');
  });

  it('keeps the reason it was given', () => {
    const cancellation = new Cancellation();
    const reason = new Error('nobody is waiting');
    cancellation.abort(reason);
    expect(cancellation.reason).toBe(reason);
  });

  it('does not run a removed listener, nor one added after the abort', () => {
    const cancellation = new Cancellation();
    const removed = vi.fn();
    const kept = vi.fn();
    cancellation.addEventListener('abort', removed);
    cancellation.addEventListener('abort', kept);
    cancellation.removeEventListener('abort', removed);
    cancellation.abort();
    const late = vi.fn();
    cancellation.addEventListener('abort', late);
    expect(removed).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
    expect(late).not.toHaveBeenCalled();
  });

  it('runs every listener when one throws, and rethrows that error on a microtask', () => {
    const deferred: (() => void)[] = [];
    const queue = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => deferred.push(task));
    try {
      const cancellation = new Cancellation();
      const after = vi.fn();
      cancellation.addEventListener('abort', () => {
        throw new Error('listener failed');
      });
      cancellation.addEventListener('abort', after);
      cancellation.abort();
      expect(after).toHaveBeenCalledTimes(1);
      expect(deferred).toHaveLength(1);
      expect(() => deferred[0]?.()).toThrow('listener failed');
    } finally {
      queue.mockRestore();
    }
  });
});
