import { normalizeCountry } from './countries.js';
import type { Decision, DecisionQuery } from './decide.js';
import { isNameCode, isPlainLabel, plainNameEnd } from './host.js';
import { instantOf, Matches } from './matches.js';
import type { PolicyState } from './policy-state.js';

/**
 * Decides the host `raw` in ONE right-to-left pass that both checks it (with host.ts's own rules) and
 * hashes every suffix for the index: at each dot, `hash` is the hash of the suffix after it, which is
 * looked up unless no indexed name has that many labels. Lookups compare in place: no substring is made.
 *
 * Untrusted `raw` (a raw Host value) is decided here only when it is already a plain name, with at most a
 * port and a trailing dot; otherwise (upper case, non-ASCII, `xn--`, IP-like, invalid) this returns
 * `undefined` and the caller normalises it first. A `trusted` host is a normalised name: always decided.
 */
export function scanHost(
  state: PolicyState,
  query: DecisionQuery,
  raw: string,
  trusted: boolean,
): Decision | undefined {
  const end = trusted ? raw.length : plainNameEnd(raw);
  if (end === -1) return undefined;
  const { index } = state;
  const labelCounts = index.labelCounts;
  // No indexed name has more labels than this: longer suffixes need no lookup. Bit 31 means 31 or more;
  // a name has at most 127 (253 octets). A small integer, not Infinity, keeps the comparisons integer ones.
  const maxLabels = labelCounts < 0 ? 127 : 31 - Math.clz32(labelCounts);
  let matches: Matches | undefined;
  let labels = 1;
  let labelEnd = end;
  let hash = 0;
  for (let position = end - 1; ; position--) {
    const code = position < 0 ? 46 : raw.charCodeAt(position);
    if (code === 46) {
      const start = position + 1;
      if (!trusted && !isPlainLabel(raw, start, labelEnd, labelEnd === end)) return undefined;
      if (labels <= maxLabels && (labelCounts & (1 << Math.min(labels, 31))) !== 0) {
        const refs = index.lookup(raw, start, end, hash);
        if (refs !== undefined && refs.length !== 0) {
          matches ??= new Matches(
            instantOf(query.at),
            normalizeCountry(query.country),
            state.unknownCountry === 'block',
            state.slots,
          );
          matches.consider(refs, start);
        }
      }
      // A trusted host needs no further checking once no longer suffix can match.
      if (position < 0 || (++labels > maxLabels && trusted)) break;
      labelEnd = position;
    } else if (!trusted && !isNameCode(code)) {
      return undefined;
    }
    hash = (Math.imul(hash, 31) + code) | 0;
  }
  if (matches !== undefined) return matches.verdict(raw, end);
  return { blocked: false, reason: 'no-order', host: end === raw.length ? raw : raw.slice(0, end) };
}
