import type { HeaderMap } from './types.js';

/** RFC 9211 §2.2 `fwd` values this cache uses. */
export type ForwardReason = 'uri-miss' | 'vary-miss' | 'miss' | 'stale' | 'method' | 'request';

/** What one cache says about one response (RFC 9211 §2). */
export interface CacheStatusFacts {
  hit?: boolean;
  fwd?: ForwardReason;
  fwdStatus?: number;
  stored?: boolean;
  collapsed?: boolean;
  ttlSeconds?: number;
  detail?: string;
}

/**
 * Formats this cache's member of the `Cache-Status` list, e.g. `edge451; hit; ttl=42` or
 * `edge451; fwd=uri-miss; fwd-status=200; detail=private`. Parameters appear in RFC 9211 §2 order.
 * `ttlSeconds` overrides `facts.ttlSeconds` (the hit path passes it apart: copying `facts` with a spread
 * costs more than everything else here).
 */
export function formatCacheStatus(
  name: string,
  facts: CacheStatusFacts,
  ttlSeconds = facts.ttlSeconds,
): string {
  let value = name;
  if (facts.hit) value += '; hit';
  if (facts.fwd !== undefined) value += `; fwd=${facts.fwd}`;
  if (facts.fwdStatus !== undefined) value += `; fwd-status=${facts.fwdStatus}`;
  if (facts.stored) value += '; stored';
  if (facts.collapsed) value += '; collapsed';
  if (ttlSeconds !== undefined) value += `; ttl=${ttlSeconds}`;
  if (facts.detail !== undefined) value += `; detail=${facts.detail}`;
  return value;
}

/**
 * Puts this cache's member first in the header, before whatever caches nearer the origin said
 * (RFC 9211 §2: the member closest to the client comes first).
 */
export function prependCacheStatus(headers: HeaderMap, member: string): string {
  const upstream = headers['cache-status'];
  if (upstream === undefined) return member;
  return [member, ...(Array.isArray(upstream) ? upstream : [upstream])].join(', ');
}

/** Whether `name` can be a Cache-Status cache name: an RFC 8941 token (`edge451`, `cdn.example`). */
export function isCacheStatusName(name: string): boolean {
  return /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*$/.test(name);
}
