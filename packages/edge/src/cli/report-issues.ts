import { PolicyValidationError } from '@edge451/policy';
import { ConfigError, type ConfigIssue, formatIssues } from '../config/config-error.js';

/** Config and policy problems as one list, or undefined for any other error (a bug, an I/O failure). */
export function issuesOf(error: unknown): ConfigIssue[] | undefined {
  if (error instanceof ConfigError) return error.issues;
  if (error instanceof PolicyValidationError) {
    return error.issues.map((issue) => ({
      file: issue.file ?? '(policy)',
      path: issue.path,
      ...(issue.line === undefined ? {} : { line: issue.line }),
      message: issue.message,
    }));
  }
  return undefined;
}

/** Prints every problem, one per line, then a count: what `check`, `decide` and `start` show an operator. */
export function reportIssues(issues: readonly ConfigIssue[]): void {
  process.stderr.write(`${formatIssues(issues)}\n${issues.length} problem(s) found\n`);
}
