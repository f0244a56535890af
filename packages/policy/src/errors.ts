/**
 * One problem found in a policy document or change. `path` points into the document the way an operator
 * reads it, e.g. `orders[2] (id "fr-2025-motogp").hosts[1]` (empty for the document itself); `message`
 * says what was expected and what was found. `file` and `line` are set when the problem came from a file.
 */
export type PolicyIssue = { file?: string; line?: number; path: string; message: string };

/**
 * Thrown by every function that reads a policy document or applies a change when the input is not valid.
 * It lists EVERY problem found, never just the first; when it is thrown nothing was applied: the previous
 * policy (if any) is untouched and still usable. Stable code: `POLICY_INVALID`.
 */
export class PolicyValidationError extends Error {
  readonly code = 'POLICY_INVALID' as const;
  readonly issues: readonly PolicyIssue[];

  constructor(issues: readonly PolicyIssue[]) {
    super(formatIssues(issues));
    this.name = 'PolicyValidationError';
    this.issues = issues;
  }
}

/** `file:line: path: message`, leaving out what is unknown. */
export function formatIssue(issue: PolicyIssue): string {
  const where =
    issue.file === undefined ? '' : `${issue.file}${issue.line === undefined ? '' : `:${issue.line}`}: `;
  const path = issue.path === '' ? '' : `${issue.path}: `;
  return `${where}${path}${issue.message}`;
}

function formatIssues(issues: readonly PolicyIssue[]): string {
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return `policy is invalid (${count}):\n${issues.map((issue) => `  - ${formatIssue(issue)}`).join('\n')}`;
}
