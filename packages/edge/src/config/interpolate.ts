export type InterpolationProblem = { path: (string | number)[]; message: string };

const reference = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string value of a parsed document.
 * Runs on parsed values, never on the raw text, so an environment value cannot inject YAML structure.
 * Returns the new value and every reference that had no value and no default.
 */
export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
): { value: unknown; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') return substitute(node, env, path, problems);
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, walk(item, [...path, key])]));
    }
    return node;
  };
  return { value: walk(value, []), problems };
}

function substitute(
  text: string,
  env: NodeJS.ProcessEnv,
  path: (string | number)[],
  problems: InterpolationProblem[],
): string {
  return text.replace(reference, (match, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    problems.push({
      path,
      message: `expected environment variable ${name} to be set (referenced as ${match})`,
    });
    return '';
  });
}
