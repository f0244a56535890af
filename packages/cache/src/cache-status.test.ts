import { describe, expect, test } from 'vitest';
import { formatCacheStatus, isCacheStatusName, prependCacheStatus } from './cache-status.js';

describe('Cache-Status (RFC 9211)', () => {
  test('formats each outcome with its parameters in RFC order', () => {
    expect(formatCacheStatus('edge451', { hit: true, ttlSeconds: 42 })).toBe('edge451; hit; ttl=42');
    expect(
      formatCacheStatus('edge451', { fwd: 'uri-miss', fwdStatus: 200, stored: true, ttlSeconds: 60 }),
    ).toBe('edge451; fwd=uri-miss; fwd-status=200; stored; ttl=60');
    expect(
      formatCacheStatus('edge451', { fwd: 'uri-miss', fwdStatus: 200, collapsed: true, ttlSeconds: 60 }),
    ).toBe('edge451; fwd=uri-miss; fwd-status=200; collapsed; ttl=60');
    expect(formatCacheStatus('edge451', { fwd: 'stale', ttlSeconds: -3, detail: 'stale-if-error' })).toBe(
      'edge451; fwd=stale; ttl=-3; detail=stale-if-error',
    );
  });

  test("puts this cache's member before the ones from caches nearer the origin", () => {
    expect(prependCacheStatus({}, 'edge451; hit')).toBe('edge451; hit');
    expect(prependCacheStatus({ 'cache-status': 'Origin; fwd=uri-miss' }, 'edge451; hit')).toBe(
      'edge451; hit, Origin; fwd=uri-miss',
    );
    expect(prependCacheStatus({ 'cache-status': ['A; hit', 'B; hit'] }, 'edge451; hit')).toBe(
      'edge451; hit, A; hit, B; hit',
    );
  });

  test('a cache name must be a structured-field token', () => {
    expect(isCacheStatusName('edge451')).toBe(true);
    expect(isCacheStatusName('cdn.example/paris-1')).toBe(true);
    expect(isCacheStatusName('edge 451')).toBe(false);
    expect(isCacheStatusName('1edge')).toBe(false);
    expect(isCacheStatusName('')).toBe(false);
  });
});
