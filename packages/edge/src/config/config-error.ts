/** One thing wrong with a config or policy file: where, and what was expected. */
export type ConfigIssue = { file: string; path: string; line?: number; message: string };

/**
 * Raised by config loading with every issue found, never only the first: an operator fixes a file once.
 * Code `EDGE_CONFIG_INVALID`; `format()` is what `edge451 check` prints.
 */
export class ConfigError extends Error {
  readonly code = 'EDGE_CONFIG_INVALID';
  constructor(readonly issues: ConfigIssue[]) {
    super(formatIssues(issues));
    this.name = 'ConfigError';
  }
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
      return `${where}: ${issue.path || '(root)'}: ${issue.message}`;
    })
    .join('\n');
}

/** `['sites', 0, 'origin']` → `sites[0].origin`, the notation every message uses. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}
