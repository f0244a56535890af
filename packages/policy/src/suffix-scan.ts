import { normalizeCountry } from './countries.js';
import type { Decision, DecisionQuery } from './decide.js';
import { isNameCode, isPlainLabel, plainNameEnd } from './host.js';
import { instantOf, Matches } from './matches.js';
import type { PolicyState } from './policy-state.js';

// The suffixes of the host being decided, shortest first (`com`, `example.com`, `a.example.com`): where
// each starts, and its hash. decide() is synchronous and never re-entered, so one pair of arrays serves
// every call; a name of 253 octets has at most 127 labels.
const suffixStarts = new Int32Array(128);
const suffixHashes = new Int32Array(128);

/**
 * Decides the host `raw` in two steps: one right-to-left pass over its characters that checks them (with
 * host.ts's rules) and records every suffix with its hash, then one index lookup per suffix that some
 * indexed name could be (by label count). Lookups compare in place: no substring is made. The pass has no
 * lookup code inside it, which keeps it tight (measured: see the README).
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
  const labels = trusted ? recordSuffixes(raw, end) : recordPlainSuffixes(raw, end);
  if (labels === 0) return undefined;
  const { index } = state;
  const labelCounts = index.labelCounts;
  // No indexed name has more labels than this: longer suffixes need no lookup. Bit 31 means 31 or more.
  const maxLabels = labelCounts < 0 ? labels : Math.min(labels, 31 - Math.clz32(labelCounts));
  let matches: Matches | undefined;
  for (let label = 1; label <= maxLabels; label++) {
    if ((labelCounts & (1 << Math.min(label, 31))) === 0) continue;
    const start = suffixStarts[label - 1] as number;
    const refs = index.lookup(raw, start, end, suffixHashes[label - 1] as number);
    if (refs === undefined || refs.length === 0) continue;
    matches ??= new Matches(
      instantOf(query.at),
      normalizeCountry(query.country),
      state.unknownCountry === 'block',
      state.slots,
    );
    matches.consider(refs, start);
  }
  if (matches !== undefined) return matches.verdict(raw, end);
  return { blocked: false, reason: 'no-order', host: end === raw.length ? raw : raw.slice(0, end) };
}

/**
 * Records the suffixes of `raw.slice(0, end)` if it is a plain name (host.ts's `isNameCode` and
 * `isPlainLabel`); returns the number of labels, or 0 when the name is not plain. The hash is
 * host-table.ts's `hashSuffix`, computed for every suffix in the same pass.
 */
function recordPlainSuffixes(raw: string, end: number): number {
  let labels = 0;
  let labelEnd = end;
  let hash = 0;
  for (let position = end - 1; position >= 0; position--) {
    const code = raw.charCodeAt(position);
    if (code === 46) {
      if (!isPlainLabel(raw, position + 1, labelEnd, labelEnd === end)) return 0;
      suffixStarts[labels] = position + 1;
      suffixHashes[labels] = hash;
      labels++;
      labelEnd = position;
    } else if (!isNameCode(code)) {
      return 0;
    }
    hash = (Math.imul(hash, 31) + code) | 0;
  }
  if (!isPlainLabel(raw, 0, labelEnd, labelEnd === end)) return 0;
  suffixStarts[labels] = 0;
  suffixHashes[labels] = hash;
  return labels + 1;
}

/** Records the suffixes of a normalised name (nothing to check); returns the number of labels. */
function recordSuffixes(name: string, end: number): number {
  let labels = 0;
  let hash = 0;
  for (let position = end - 1; position >= 0; position--) {
    const code = name.charCodeAt(position);
    if (code === 46) {
      suffixStarts[labels] = position + 1;
      suffixHashes[labels] = hash;
      labels++;
    }
    hash = (Math.imul(hash, 31) + code) | 0;
  }
  suffixStarts[labels] = 0;
  suffixHashes[labels] = hash;
  return labels + 1;
}
