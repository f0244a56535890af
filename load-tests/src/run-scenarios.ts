import { closeScaleWorld } from './candidates/scale-world.js';
import {
  printLatency,
  printPolicyChange,
  printProfile,
  printScale,
  printSoak,
  printStorms,
  printTargets,
  printThroughput,
} from './report/print.js';
import { evaluateTargets, preferredRow, type TargetResult } from './report/targets.js';
import type { BenchContext } from './scenarios/bench-context.js';
import { runCoalescingStorms, type StormRow } from './scenarios/coalescing-storm.js';
import { type LatencyRow, runLatencyAtHalfLoad } from './scenarios/latency-at-half-load.js';
import { type PolicyChangeRow, runPolicyChange } from './scenarios/policy-change.js';
import { type ProfileResult, profileEdge } from './scenarios/profile-edge.js';
import { runScale, type ScaleResult } from './scenarios/scale.js';
import { runSoak, type SoakResult } from './scenarios/soak.js';
import { runThroughput, type ThroughputRow, type ThroughputScenario } from './scenarios/throughput.js';
import { throughputScenarios } from './scenarios/throughput-scenarios.js';

/** Scenarios without a target where edge451 (one worker) spent over 4× its first baseline's CPU per request. */
function costlyScenarios(results: BenchResults): string[] {
  return results.throughput.flatMap(({ scenario, rows }) => {
    const edge = preferredRow(results, scenario.id);
    const baseline = rows.find((row) => row.tool === edge?.tool && row.candidate === scenario.baselines[0]);
    if (edge === undefined || baseline === undefined) return [];
    return edge.cpuMicrosPerRequest > 4 * baseline.cpuMicrosPerRequest ? [scenario.id] : [];
  });
}

/** Everything a run measured, for the report. Scenarios not run are absent. */
export type BenchResults = {
  throughput: { scenario: ThroughputScenario; rows: ThroughputRow[] }[];
  latency?: LatencyRow[];
  coalescing?: StormRow[];
  scale?: ScaleResult;
  policyChange?: PolicyChangeRow[];
  soak?: SoakResult;
  targets: TargetResult[];
  profiles: ProfileResult[];
};

/**
 * Runs the selected scenarios in order, printing each table as soon as it is measured, then judges the
 * targets and profiles edge451 on the scenario of each one missed, and on any scenario where it spent
 * over 4× its baseline's CPU per request.
 */
export async function runScenarios(ctx: BenchContext): Promise<BenchResults> {
  const results: BenchResults = { throughput: [], targets: [], profiles: [] };
  const { log } = ctx;
  try {
    for (const id of ctx.options.only) {
      log(`\n== ${id}`);
      const throughput = throughputScenarios[id];
      if (throughput !== undefined) {
        for (const scenario of throughput) {
          const rows = await runThroughput(scenario, ctx);
          results.throughput.push({ scenario, rows });
          printThroughput(scenario, rows, log);
        }
      } else if (id === 'latency') {
        results.latency = await runLatencyAtHalfLoad(
          ctx,
          results.throughput.flatMap((entry) => entry.rows),
        );
        printLatency(results.latency, log);
      } else if (id === 'coalescing') {
        results.coalescing = await runCoalescingStorms(ctx);
        printStorms(results.coalescing, log);
      } else if (id === 'scale') {
        results.scale = await runScale(ctx);
        printScale(results.scale, log);
      } else if (id === 'policy-change') {
        results.policyChange = await runPolicyChange(ctx);
        printPolicyChange(results.policyChange, log);
      } else if (id === 'soak') {
        results.soak = await runSoak(ctx);
        if (results.soak !== undefined) printSoak(results.soak, log);
      }
    }
  } finally {
    await closeScaleWorld(ctx);
  }
  results.targets = evaluateTargets(results);
  printTargets(results.targets, log);
  if (ctx.options.profile) {
    const toProfile = new Set([
      ...results.targets
        .filter((target) => target.status === 'missed')
        .flatMap((target) => target.profileScenario ?? []),
      ...costlyScenarios(results),
    ]);
    for (const id of toProfile) {
      const scenario = Object.values(throughputScenarios)
        .flat()
        .find((entry) => entry.id === id);
      if (scenario === undefined) continue;
      log(`\n== profile of edge451 (--cpu-prof) on ${id}`);
      const profile = await profileEdge(ctx, scenario);
      results.profiles.push(profile);
      printProfile(profile, log);
    }
  }
  return results;
}
