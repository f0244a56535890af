import { headerValue } from './request-headers.js';
import type { HeaderMap } from './types.js';

// Hand-written: http-cache-semantics evaluates the cache's own revalidation, not a client's conditional
// request against a stored response, and this is the small part of RFC 9110 §13 a cache needs.

const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;

/**
 * Whether a GET/HEAD with `If-None-Match` / `If-Modified-Since` should get 304 Not Modified for a
 * response with `status` and `headers` (RFC 9110 §13.2.2 order): If-None-Match wins when present, using
 * weak comparison (§13.1.2); If-Modified-Since compares with Last-Modified, or Date when the response has
 * none (RFC 9111 §4.3.2). Only 2xx responses are ever "not modified" (§13.2.1).
 */
export function isNotModified(
  requestHeaders: HeaderMap,
  status: number,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): boolean {
  if (status < 200 || status > 299) return false;
  const ifNoneMatch = headerValue(requestHeaders, 'if-none-match');
  if (ifNoneMatch !== undefined) return noneMatchFails(ifNoneMatch, headerValue(headers, 'etag'));
  const ifModifiedSince = headerValue(requestHeaders, 'if-modified-since');
  if (ifModifiedSince !== undefined) {
    return notModifiedSince(
      ifModifiedSince,
      headerValue(headers, 'last-modified') ?? headerValue(headers, 'date'),
    );
  }
  return false;
}

function noneMatchFails(ifNoneMatch: string, etag: string | undefined): boolean {
  if (etag === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = stripWeak(etag.trim());
  return (ifNoneMatch.match(ENTITY_TAG) ?? []).some((candidate) => stripWeak(candidate) === opaque);
}

function notModifiedSince(ifModifiedSince: string, lastModified: string | undefined): boolean {
  const since = Date.parse(ifModifiedSince);
  const modified = lastModified === undefined ? Number.NaN : Date.parse(lastModified);
  // §13.1.3: an invalid date makes the condition ignored, i.e. a full response.
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * Headers of a 304 built from the full response's headers: representation metadata that describes a body
 * is dropped (RFC 9110 §15.4.5); validators, Cache-Control, Expires, Vary, Date and Age stay.
 */
export function notModifiedHeaders<T extends Record<string, string | string[]>>(headers: T): T {
  const copy = { ...headers };
  for (const name of [
    'content-length',
    'content-type',
    'content-encoding',
    'content-language',
    'content-range',
  ]) {
    delete copy[name];
  }
  return copy;
}
