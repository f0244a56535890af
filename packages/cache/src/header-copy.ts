import type { HeaderMap } from './types.js';

/**
 * A copy of `headers` without the fields `dropped` names. Built field by field rather than copied and
 * deleted from: each `delete`, even of an absent field, is a call into V8's runtime (~500 instructions;
 * the 20 of a pass-through request cost ~10,000, bench:instructions).
 */
export function copyWithout<T extends HeaderMap>(headers: T, dropped: (name: string) => boolean): T {
  const copy: HeaderMap = {};
  for (const name in headers) {
    if (!dropped(name)) copy[name] = headers[name];
  }
  return copy as T;
}
