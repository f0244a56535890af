// Response fields http-cache-semantics 4.3.0 splits with `trim().split(/\s*,\s*/)`: `Vary` (`_varyMatches`,
// on every evaluation of a stored response) and `Connection` (`_copyWithoutHopByHopHeaders`, on every
// `responseHeaders`). That expression rescans a run of whitespace from each of its positions when no comma
// follows, so it is quadratic in the run: an origin's `Vary: a<15,000 spaces>b` cost 0.2-0.5 s of the event
// loop per evaluation, at least once a second per hot URL. Everything else the library parses is linear on
// any input (checked on 4.3.0: Cache-Control `split(/,/)`, Pragma `/no-cache/`, Warning and ETag tests
// anchored at `^`, request If-None-Match `split(/,/)`; the cache ignores request Cache-Control and Pragma).
const LIBRARY_SPLIT_FIELDS: ReadonlySet<string> = new Set(['vary', 'connection']);

// Two or more whitespace characters: matched greedily and never backtracked, so the replace is linear.
const WHITESPACE_RUN = /\s\s+/g;

/**
 * `value` with each run of whitespace collapsed to one space when `name` is a field the library splits
 * with the quadratic expression above; otherwise `value` itself. After this the expression backtracks at
 * most one character per position. The library's parse of a list of tokens with any optional whitespace
 * is unchanged (it trims every member); only a member with whitespace inside, which no field name has,
 * reads differently, and such a name matched no request header before either.
 */
export function withLinearListWhitespace(name: string, value: string): string {
  return LIBRARY_SPLIT_FIELDS.has(name) ? value.replace(WHITESPACE_RUN, ' ') : value;
}
