import type { z } from 'zod';
import { describeValue } from './host-pattern.js';

/** A path into a document, as zod reports it: `['orders', 2, 'hosts', 1]`. */
export type PathSegment = string | number;

const ANNOTATED_LISTS = new Set(['orders', 'notifications', 'lifts']);

/**
 * Renders a path the way an operator reads it, naming the order an entry belongs to:
 * `orders[2] (id "fr-2025-motogp").hosts[1]`, `notifications[0] (order "fr-2025-motogp").hosts[3]`.
 * `rootName` names a root that is not a whole document (`order` for a put-order change).
 */
export function describePath(path: readonly PathSegment[], root: unknown, rootName = ''): string {
  let text = rootName === '' ? '' : `${rootName}${annotation(root)}`;
  let value: unknown = root;
  let listName: PathSegment | undefined;
  for (const segment of path) {
    value =
      isRecord(value) || Array.isArray(value) ? (value as Record<PathSegment, unknown>)[segment] : undefined;
    if (typeof segment === 'number') {
      text += `[${segment}]`;
      if (listName !== undefined && ANNOTATED_LISTS.has(String(listName))) text += annotation(value);
    } else {
      text += text === '' ? segment : `.${segment}`;
      if (segment === 'order') text += annotation(value);
    }
    listName = segment;
  }
  return text;
}

function annotation(value: unknown): string {
  if (!isRecord(value)) return '';
  if (typeof value.id === 'string') return ` (id ${JSON.stringify(value.id)})`;
  if (typeof value.orderId === 'string') return ` (order ${JSON.stringify(value.orderId)})`;
  return '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  boolean: 'true or false',
  number: 'a number',
};

/**
 * Converts zod issues (parsed with `reportInput: true`) to our wording: what was expected, what was
 * found. `allowedKeys` lists the keys of the strict object that was parsed; paths are relative to it.
 */
export function fromZodIssues(
  issues: readonly z.core.$ZodIssue[],
  allowedKeys: readonly string[],
): { path: PathSegment[]; message: string }[] {
  const result: { path: PathSegment[]; message: string }[] = [];
  for (const issue of issues) {
    const path = issue.path as PathSegment[];
    if (issue.code === 'unrecognized_keys') {
      const message = `unknown key: expected one of ${allowedKeys.join(', ')}`;
      for (const key of issue.keys) result.push({ path: [...path, key], message });
    } else {
      result.push({ path, message: describeIssue(issue) });
    }
  }
  return result;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const found = describeValue(issue.input);
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, found ${found}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}, found ${found}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `expected at least ${issue.minimum} entr${issue.minimum === 1 ? 'y' : 'ies'}, found none`
        : `expected at least ${issue.minimum} character(s), found ${found}`;
    default:
      return issue.message;
  }
}
