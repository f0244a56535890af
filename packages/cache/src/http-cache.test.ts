import { describe, expect, test } from 'vitest';
import { createHttpCache } from './http-cache.js';

describe('createHttpCache options', () => {
  test('every problem is reported at once with CACHE_OPTIONS_INVALID', () => {
    expect(() =>
      createHttpCache({
        maxBytes: 1000,
        maxEntryBytes: 2000,
        maxFillBytes: 10,
        name: 'edge 451',
        staleRetentionMs: -1,
        uncacheableMemoryMs: 1.5,
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'CACHE_OPTIONS_INVALID',
        source: 'internal',
        message: [
          'invalid cache options:',
          '- maxEntryBytes (2000) must not exceed maxBytes (1000)',
          '- maxFillBytes (10) must be at least maxEntryBytes (2000)',
          '- name must be an RFC 8941 token such as "edge451", got "edge 451"',
          '- staleRetentionMs must be a whole number of milliseconds >= 0, got -1',
          '- uncacheableMemoryMs must be a whole number of milliseconds >= 0, got 1.5',
        ].join('\n'),
      }),
    );
  });

  test('sizes must be positive integers', () => {
    expect(() => createHttpCache({ maxBytes: 0 })).toThrow(
      'maxBytes must be a positive integer of bytes, got 0',
    );
  });

  test('defaults give an empty cache', () => {
    expect(createHttpCache().stats).toEqual({
      entries: 0,
      bytes: 0,
      storeErrors: 0,
      collapsedRequests: 0,
      backgroundRefreshes: 0,
      backgroundRefreshErrors: 0,
    });
  });

  test('a small maxBytes brings the default maxEntryBytes down with it', () => {
    expect(() => createHttpCache({ maxBytes: 1024 })).not.toThrow();
  });
});
