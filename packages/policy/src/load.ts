import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { type Document, LineCounter, parseDocument } from 'yaml';
import type { PolicyDocument } from './document.js';
import { type PolicyIssue, PolicyValidationError } from './errors.js';
import type { PathSegment } from './issue-path.js';
import type { DocumentSource } from './issue-sink.js';
import { documentOf } from './to-document.js';
import { type ValidatedPolicy, validateSources } from './validate-document.js';

/** How a policy file is written. */
export type PolicyFormat = 'yaml' | 'json';

/**
 * Parses and validates one policy document. `format` defaults to the extension of `file` (`.json` is
 * JSON, anything else YAML 1.2, where `NO` and dates stay strings). Throws a {@link PolicyValidationError}
 * listing every problem, syntax errors included, each with `file` and (when known) `line`.
 * Returns the normalised document; compile it with `compilePolicy`.
 */
export function parsePolicyText(
  text: string,
  options: { file: string; format?: PolicyFormat },
): PolicyDocument {
  const read = readSource(text, options.file, options.format ?? formatOf(options.file));
  if ('issues' in read) throw new PolicyValidationError(read.issues);
  return documentOf(validateSources([read]));
}

/**
 * Reads and validates several policy files as ONE policy: orders, notifications and lifts are
 * concatenated in file order; an order id used in two files is an error naming both; country groups and
 * `unknownCountry` may be set in several files only if they agree. Every problem of every file is
 * reported in one {@link PolicyValidationError}, and nothing is returned (so nothing is half-applied)
 * unless all files are valid. Unreadable files are reported the same way.
 */
export async function loadPolicyFiles(files: readonly string[]): Promise<PolicyDocument> {
  const issues: PolicyIssue[] = [];
  const sources: DocumentSource[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      issues.push({ file, path: '', message: `cannot read the policy file (${reason})` });
      continue;
    }
    const read = readSource(text, file, formatOf(file));
    if ('issues' in read) issues.push(...read.issues);
    else sources.push(read);
  }
  if (files.length === 0) issues.push({ path: '', message: 'expected at least one policy file, found none' });
  let validated: ValidatedPolicy | undefined;
  try {
    validated = validateSources(sources);
  } catch (error) {
    if (!(error instanceof PolicyValidationError)) throw error;
    issues.push(...error.issues);
  }
  if (validated === undefined || issues.length > 0) throw new PolicyValidationError(issues);
  return documentOf(validated);
}

function formatOf(file: string): PolicyFormat {
  return extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
}

type ReadResult = DocumentSource | { issues: PolicyIssue[] };

function readSource(text: string, file: string, format: PolicyFormat): ReadResult {
  return format === 'json' ? readJson(text, file) : readYaml(text, file);
}

function readJson(text: string, file: string): ReadResult {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    const value: unknown = JSON.parse(body);
    let located: Located | undefined;
    // JSON is YAML 1.2: re-read it with positions only when a problem needs a line number.
    const locate = (path: readonly PathSegment[]) => {
      located ??= locateWithYaml(body);
      return located(path);
    };
    return { file, value, locate };
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message)?.[1];
    const line = position === undefined ? undefined : lineAt(body, Number(position));
    return {
      issues: [
        { file, ...(line === undefined ? {} : { line }), path: '', message: `invalid JSON: ${message}` },
      ],
    };
  }
}

function readYaml(text: string, file: string): ReadResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    const issues = document.errors.map((error) => ({
      file,
      line: lineCounter.linePos(error.pos[0]).line,
      path: '',
      message: `invalid YAML: ${firstLine(error.message)}`,
    }));
    return { issues };
  }
  let value: unknown;
  try {
    // The alias limit stops "billion laughs" documents from exhausting memory.
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { issues: [{ file, path: '', message: `invalid YAML: ${firstLine((error as Error).message)}` }] };
  }
  return { file, value, locate: locator(document, lineCounter) };
}

type Located = (path: readonly PathSegment[]) => number | undefined;

function locateWithYaml(text: string): Located {
  const lineCounter = new LineCounter();
  return locator(parseDocument(text, { lineCounter, prettyErrors: false }), lineCounter);
}

/** The line of the deepest node that exists along `path` (a missing key points at its mapping). */
function locator(document: Document, lineCounter: LineCounter): Located {
  return (path) => {
    for (let length = path.length; length >= 0; length--) {
      const node = document.getIn(path.slice(0, length), true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node?.range !== undefined) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset && index < text.length; index++)
    if (text.charCodeAt(index) === 10) line++;
  return line;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? message;
}
