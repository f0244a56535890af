import type { CandidateId } from '../candidates/candidate.js';
import { candidateLabels } from '../candidates/candidate.js';
import type { StormRow } from '../scenarios/coalescing-storm.js';
import type { LatencyRow } from '../scenarios/latency-at-half-load.js';
import type { PolicyChangeRow } from '../scenarios/policy-change.js';
import type { ProfileResult } from '../scenarios/profile-edge.js';
import type { ScaleResult } from '../scenarios/scale.js';
import type { SoakResult } from '../scenarios/soak.js';
import type { ThroughputRow, ThroughputScenario } from '../scenarios/throughput.js';
import { textTable } from './format.js';
import {
  latencyProblems,
  latencyTable,
  policyChangeTable,
  profileTables,
  scaleTables,
  soakTable,
  stormTable,
} from './result-tables.js';
import type { TargetResult } from './targets.js';
import { throughputTable } from './throughput-table.js';

type Log = (line: string) => void;

/** Prints a scenario's table, then any problems (a failed candidate gets no figures, only its reasons). */
export function printThroughput(scenario: ThroughputScenario, rows: readonly ThroughputRow[], log: Log) {
  const { header, cells } = throughputTable(rows, scenario.baselines);
  log(`\n${scenario.title} — ${scenario.what}`);
  log(textTable(header, cells));
  printProblems(
    rows.map((row) => ({ who: `${row.candidate} (${row.tool})`, problems: row.problems })),
    log,
  );
}

export function printLatency(rows: readonly LatencyRow[], log: Log) {
  const { header, cells } = latencyTable(rows);
  log(`\nLatency at half of edge451's peak (open loop, constant rate)`);
  log(textTable(header, cells));
  printProblems(latencyProblems(rows), log);
}

export function printStorms(rows: readonly StormRow[], log: Log) {
  const { header, cells } = stormTable(rows);
  log('\nCoalescing storm: concurrent requests for one URL not yet cached');
  log(textTable(header, cells));
  printProblems(
    rows.map((row) => ({ who: label(row.candidate), problems: row.problems })),
    log,
  );
}

export function printScale(result: ScaleResult, log: Log) {
  const { startup, throughput } = scaleTables(result);
  log(`\nScale: ${result.sites} sites, ${result.hosts} blocked hosts`);
  log(textTable(startup.header, startup.cells));
  log('');
  log(textTable(throughput.header, throughput.cells));
  printProblems(
    [{ who: 'scale', problems: [...result.problems, ...result.throughput.flatMap((row) => row.problems)] }],
    log,
  );
}

export function printPolicyChange(rows: readonly PolicyChangeRow[], log: Log) {
  const { header, cells } = policyChangeTable(rows);
  log('\nPolicy change at scale: from the change to the first 451 on the new host');
  log(textTable(header, cells));
  printProblems(
    rows.map((row) => ({ who: row.name, problems: row.problems })),
    log,
  );
}

export function printSoak(result: SoakResult, log: Log) {
  const { header, cells } = soakTable(result);
  log(`\nSoak: mixed load for ${result.seconds} s on edge451 workers: 1`);
  log(textTable(header, cells));
  printProblems([{ who: 'soak', problems: result.problems }], log);
}

export function printTargets(targets: readonly TargetResult[], log: Log) {
  log('\nTargets (reported, not asserted)');
  log(
    textTable(
      ['target', 'measured', 'status'],
      targets.map((target) => [target.target, target.measured, target.status]),
    ),
  );
}

export function printProfile(profile: ProfileResult, log: Log) {
  if (profile.summary === undefined) {
    log(`  profile failed: ${profile.problem ?? 'unknown'}`);
    return;
  }
  const { top, owners } = profileTables(profile.summary);
  log(textTable(owners.header, owners.cells));
  log('');
  log(textTable(top.header, top.cells));
}

function printProblems(entries: readonly { who: string; problems: readonly string[] }[], log: Log) {
  for (const entry of entries)
    for (const problem of entry.problems.slice(0, 3)) log(`  ! ${entry.who}: ${problem}`);
}

function label(id: CandidateId): string {
  return candidateLabels[id];
}
