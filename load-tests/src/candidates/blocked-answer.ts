import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Canned } from '../origin/canned-responses.js';

/**
 * The 451 the baselines answer: edge451's own, body and header fields, as edge451 answered the benchmark's
 * blocked request at the start of the run (bench-world.ts `writeBlockedAnswer`). The bare server and the
 * naive proxy send these same bytes, so a ratio to them measures what edge451 does to decide, not what it
 * writes: RFC 7725's `Link` and the `Vary: Accept` of a negotiated page cost node:http ~4,600 instructions
 * per response to check and write (bench:instructions), which a baseline without them did not pay.
 */

// What node:http writes for each response itself (the date, the connection's own fields, the length of the
// body it is given), so never taken from the captured answer.
const writtenPerResponse = new Set([
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
]);

/** The fields of a captured 451 that a baseline repeats: every one but those it writes itself. */
export function repeatedFields(headers: IncomingHttpHeaders): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || writtenPerResponse.has(name)) continue;
    fields[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return fields;
}

/**
 * The 451 from the files `writeBlockedAnswer` wrote (`--blocked-body`, `--blocked-headers` of the bare
 * server and the naive proxy). Without them, a page of its own: for running a baseline by hand.
 */
export function readBlockedAnswer(bodyFile: string | undefined, headersFile: string | undefined): Canned {
  const body =
    bodyFile === undefined ? Buffer.from('451 Unavailable For Legal Reasons\n') : readFileSync(bodyFile);
  const fields: Record<string, string> =
    headersFile === undefined
      ? { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }
      : (JSON.parse(readFileSync(headersFile, 'utf8')) as Record<string, string>);
  return { status: 451, headers: { ...fields, 'content-length': String(body.length) }, body };
}
