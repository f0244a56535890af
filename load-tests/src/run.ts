/**
 * `pnpm bench`: every candidate side by side in one run, figures printed as they come, then
 * docs/benchmarks.md and its chart. Figures are reported against targets, never asserted.
 */
import { startBenchWorld } from './candidates/bench-world.js';
import { closeScaleWorld } from './candidates/scale-world.js';
import { type BenchOptions, parseBenchOptions, usage } from './options.js';
import { writeReport } from './report/write-report.js';
import { runScenarios } from './run-scenarios.js';
import { describeMachine } from './system/machine.js';
import { detectPinning, pinThisProcess } from './system/pinning.js';
import { detectTools } from './system/tools.js';

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  if (options.help) {
    log(usage);
    return 0;
  }
  const pinning = detectPinning();
  pinThisProcess(pinning);
  const tools = detectTools();
  log(`edge451 benchmark: ${options.only.join(', ')}${options.quick ? ' (quick smoke run)' : ''}`);
  log(`pinning: ${pinning.note}`);
  for (const skipped of tools.skipped) log(`skipped: ${skipped}`);
  const machineBefore = await describeMachine(tools);
  if (machineBefore.busyProcesses.length > 0) {
    log(`other busy processes (figures will be noisy): ${machineBefore.busyProcesses.join('; ')}`);
  }
  const world = await startBenchWorld(pinning, tools, options.keepTemp);
  if (options.keepTemp) log(`configs and logs kept in ${world.dir}`);
  for (const skipped of world.skipped) log(`skipped: ${skipped}`);
  const ctx = { world, options, log };
  // Ctrl-C or a timeout: stop every server and remove the temp folders before leaving.
  const stopOnSignal = () => {
    Promise.allSettled([closeScaleWorld(ctx), world.close()]).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  let results: Awaited<ReturnType<typeof runScenarios>>;
  try {
    results = await runScenarios(ctx);
  } finally {
    await world.close();
  }
  const machineAfter = await describeMachine(tools);
  if (options.writeDocs) {
    const written = await writeReport({
      results,
      options,
      machineBefore,
      machineAfter,
      pinning,
      tools,
      skipped: world.skipped,
    });
    log(`\nwrote ${written.join(', ')}`);
  } else {
    log('\ndocs not written (quick or partial run; pass --write-docs to write them)');
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
