/**
 * Splits forwarding header lines into their hop entries, left (client side) to right (nearest
 * proxy). Several lines of one header are one list, in order (RFC 9110 §5.3). Empty list
 * elements are ignored (RFC 9110 §5.6.1). Never throws, whatever the input.
 */

const SPACE = 32;
const TAB = 9;
const COMMA = 44;
const SEMICOLON = 59;
const EQUALS = 61;
const QUOTE = 34;
const BACKSLASH = 92;

function isOws(code: number): boolean {
  return code === SPACE || code === TAB;
}

/** Appends each `X-Forwarded-For` entry of `value`, without surrounding spaces or tabs, to `entries`. */
export function appendXForwardedFor(value: string, entries: (string | null)[]): void {
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(',', start);
    if (end === -1) end = value.length;
    let first = start;
    let last = end;
    while (first < last && isOws(value.charCodeAt(first))) first++;
    while (last > first && isOws(value.charCodeAt(last - 1))) last--;
    if (last > first) entries.push(value.slice(first, last));
    start = end + 1;
  }
}

/**
 * Appends the `for` value (unquoted) of each `Forwarded` element of `value` to `entries` (RFC 7239
 * §4), or null for an element that has no `for`, has two, or does not parse: such a hop cannot be
 * identified, so the walk must stop there. Lenient where it is harmless: spaces around `;`, and
 * unquoted `[v6]` values.
 *
 * Elements are split off from the right, the end our proxies write: a proxy appends its element to the
 * line it received (RFC 7239 §4), after whatever the client put there. Read from the left, a client's
 * unterminated quote (`for="x, for=<proxy's view>`) would swallow the proxy's element and hide the real
 * client; read from the right, the client's bytes can only spoil elements left of the proxies' own,
 * which the walk never believes anyway.
 */
export function appendForwardedFor(value: string, entries: (string | null)[]): void {
  const first = entries.length;
  for (let end = value.length; ; ) {
    const comma = elementCommaBefore(value, end);
    const element = value.slice(comma + 1, end);
    if (!isBlank(element)) entries.push(readElementFor({ text: element, at: 0 }));
    if (comma < 0) break;
    end = comma;
  }
  reverseFrom(entries, first);
}

/** The comma that separates the element ending at `end` from the one before it, or -1. */
function elementCommaBefore(text: string, end: number): number {
  let quoted = false;
  for (let at = end - 1; at >= 0; at--) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      // Read backwards, a quote opens a quoted-string; inside one, only an unescaped quote closes it.
      if (!quoted) quoted = true;
      else if (!isEscaped(text, at)) quoted = false;
    } else if (code === COMMA && !quoted) {
      return at;
    }
  }
  return -1;
}

/** Whether the character at `at` follows an odd run of backslashes (a quoted-pair). */
function isEscaped(text: string, at: number): boolean {
  let backslashes = 0;
  while (at - backslashes - 1 >= 0 && text.charCodeAt(at - backslashes - 1) === BACKSLASH) backslashes++;
  return backslashes % 2 === 1;
}

function isBlank(text: string): boolean {
  for (let at = 0; at < text.length; at++) if (!isOws(text.charCodeAt(at))) return false;
  return true;
}

function reverseFrom(items: unknown[], first: number): void {
  for (let low = first, high = items.length - 1; low < high; low++, high--) {
    const item = items[low];
    items[low] = items[high];
    items[high] = item;
  }
}

interface Scanner {
  text: string;
  at: number;
}

function skipOws(scanner: Scanner): void {
  while (scanner.at < scanner.text.length && isOws(scanner.text.charCodeAt(scanner.at))) scanner.at++;
}

/** Reads one forwarded-element up to (and past) its comma; returns its `for` value or null. */
function readElementFor(scanner: Scanner): string | null {
  let forValue: string | null = null;
  let valid = true;
  const { text } = scanner;
  for (;;) {
    skipOws(scanner);
    const name = readUntil(scanner, isNameEnd);
    const hasValue = text.charCodeAt(scanner.at) === EQUALS;
    // `[ forwarded-pair ]`: an empty pair (`for=a;;proto=b`, a trailing `;`) is allowed.
    if (name !== '' || hasValue) {
      const value = hasValue ? readValue(scanner) : null;
      if (name === '' || value === null) valid = false;
      else if (name.toLowerCase() === 'for') {
        if (forValue !== null) valid = false;
        forValue = value;
      }
    }
    skipOws(scanner);
    const code = text.charCodeAt(scanner.at);
    if (code === SEMICOLON) {
      scanner.at++;
      continue;
    }
    if (code === COMMA || scanner.at >= text.length) {
      scanner.at++;
      return valid ? forValue : null;
    }
    // Anything else after a pair is garbage: skip to the end of this element.
    valid = false;
    skipToComma(scanner);
  }
}

/** After `=`: a quoted-string (with `\` escapes) or a run of non-delimiters; null if unterminated. */
function readValue(scanner: Scanner): string | null {
  const { text } = scanner;
  scanner.at++;
  if (text.charCodeAt(scanner.at) !== QUOTE) {
    const value = readUntil(scanner, isValueEnd);
    return value === '' ? null : value;
  }
  // quoted-string (RFC 9110 §5.6.4): copy runs between escapes, drop each backslash.
  let value = '';
  let runStart = scanner.at + 1;
  for (let at = runStart; at < text.length; at++) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      scanner.at = at + 1;
      return value + text.slice(runStart, at);
    }
    if (code === BACKSLASH) {
      value += text.slice(runStart, at);
      runStart = at + 1;
      at++;
    }
  }
  scanner.at = text.length;
  return null;
}

const isNameEnd = (code: number) => code === EQUALS || code === SEMICOLON || code === COMMA || isOws(code);
const isValueEnd = (code: number) => code === SEMICOLON || code === COMMA || isOws(code);

function readUntil(scanner: Scanner, stop: (code: number) => boolean): string {
  const start = scanner.at;
  while (scanner.at < scanner.text.length && !stop(scanner.text.charCodeAt(scanner.at))) scanner.at++;
  return scanner.text.slice(start, scanner.at);
}

/** Moves to the comma ending this element, skipping commas inside quoted strings. */
function skipToComma(scanner: Scanner): void {
  const { text } = scanner;
  let quoted = false;
  for (; scanner.at < text.length; scanner.at++) {
    const code = text.charCodeAt(scanner.at);
    if (quoted && code === BACKSLASH) scanner.at++;
    else if (code === QUOTE) quoted = !quoted;
    else if (code === COMMA && !quoted) return;
  }
}
