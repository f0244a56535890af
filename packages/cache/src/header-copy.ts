import type { HeaderMap } from './types.js';

/**
 * `headers` without the fields `dropped` names: `headers` itself when it holds none of them, as most
 * requests and responses do, else a copy. What it returns may be its input, so it is read, never changed:
 * each object the cache changes (a reply's headers, a revalidation's) is its own copy made elsewhere. A
 * pass-through went through three such filters, each copying ~10 headers (~2,500 instructions apiece).
 *
 * The copy is built field by field rather than copied and deleted from: each `delete`, even of an absent
 * field, is a call into V8's runtime (~500 instructions; the 20 of a pass-through request cost ~10,000,
 * bench:instructions).
 */
export function withoutFields<T extends HeaderMap>(headers: T, dropped: (name: string) => boolean): T {
  for (const name in headers) {
    if (dropped(name)) return copyWithout(headers, dropped);
  }
  return headers;
}

function copyWithout<T extends HeaderMap>(headers: T, dropped: (name: string) => boolean): T {
  const copy: HeaderMap = {};
  for (const name in headers) {
    if (!dropped(name)) copy[name] = headers[name];
  }
  return copy as T;
}
