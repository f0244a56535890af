import { fileURLToPath } from 'node:url';

/** The load-tests package folder (cwd of every TypeScript child, so `--import tsx` resolves). */
export const loadTestsDir = fileURLToPath(new URL('../../', import.meta.url));

/**
 * How this package runs one of its own TypeScript files as a process: node with tsx, which transforms at
 * load time only (it costs the child nothing per request), from the package folder. `nodeFlags` go
 * before the file (V8 and heap options).
 */
export function tsScriptCommand(
  file: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
): { command: string; args: string[]; cwd: string } {
  return {
    command: process.execPath,
    args: [...nodeFlags, '--import', 'tsx', file, ...args],
    cwd: loadTestsDir,
  };
}
