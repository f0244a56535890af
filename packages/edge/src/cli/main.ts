#!/usr/bin/env node
// First, before any other module runs: see tick-shape.ts.
import '../runtime/tick-shape.js';
import { parseArgs } from 'node:util';
import { runCheck } from './check.js';
import { runDecide } from './decide.js';
import { runStart } from './start.js';

const usage = `Usage:
  edge451 start [--config FILE]        run a node (without --config: the embedded demo defaults)
  edge451 check --config FILE          validate the config and every policy file it names
  edge451 check --policy FILE...       validate policy files alone (YAML or JSON)
  edge451 decide --config FILE --host HOST (--ip IP | --country CC) [--at RFC3339]
                                       print the decision as JSON
`;

/** Parses argv and runs one command; resolves with the process exit code. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      policy: { type: 'string', multiple: true },
      host: { type: 'string' },
      ip: { type: 'string' },
      country: { type: 'string' },
      at: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (command === undefined) {
    process.stderr.write(usage);
    return 2;
  }
  if (values.help || command === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  switch (command) {
    case 'start':
      return runStart(values.config);
    case 'check':
      return runCheck(values.config, values.policy);
    case 'decide':
      return runDecide(values);
    default:
      process.stderr.write(`edge451: unknown command "${command}"\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // `start` keeps running until a signal; the others exit with their code.
    if (code !== -1) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`edge451: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
