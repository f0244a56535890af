// Prints the policy engine's figures (packages/policy/README.md quotes them). Not a test: no pass/fail.
// Run: pnpm --filter @edge451/policy bench
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HostIndex } from '../src/host-index.js';
import { compilePolicy, type Policy } from '../src/index.js';
import { type Query, queryMix, syntheticPolicy } from './synthetic-policy.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const millions = (perSecond: number) => `${(perSecond / 1e6).toFixed(2)} M/s`;
const ms = (value: number) => `${value < 1 ? value.toFixed(3) : value.toFixed(1)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** CPU time of this process in ms: the machine is shared, so wall time would count other processes. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs `pass` (one pass over `count` queries) until `durationMs` of CPU time has gone: queries per CPU-second. */
function perCpuSecond(pass: () => void, count: number, durationMs: number): number {
  let done = 0;
  const start = cpuMs();
  let now = start;
  while (now - start < durationMs) {
    pass();
    done += count;
    now = cpuMs();
  }
  return (done / (now - start)) * 1000;
}

/** Decisions per CPU-second (one core: decide() is synchronous, single-threaded). */
function decisionsPerSecond(policy: Policy, queries: Query[], durationMs = 1000): number {
  let blocked = 0;
  const rate = perCpuSecond(
    () => {
      for (let index = 0; index < queries.length; index++)
        if (policy.decide(queries[index] as Query).blocked) blocked++;
    },
    queries.length,
    durationMs,
  );
  if (blocked === 0) throw new Error('the query mix blocked nothing: the benchmark is broken');
  return rate;
}

/** The floor: one Set lookup of the raw host per query, no normalisation, no suffixes. */
function mapLookupsPerSecond(names: Set<string>, queries: Query[], durationMs = 1000): number {
  let hits = 0;
  const rate = perCpuSecond(
    () => {
      for (let index = 0; index < queries.length; index++)
        if (names.has((queries[index] as Query).host)) hits++;
    },
    queries.length,
    durationMs,
  );
  // Reading `hits` keeps the lookups from being optimised away.
  return hits >= 0 ? rate : 0;
}

function decideFigures(): void {
  console.log(
    `\n## decide(): 100,000 hosts, query mix (35% exact hits, 15% subdomain hits, 50% misses), median of ${RUNS}`,
  );
  const synthetic = syntheticPolicy(100_000);
  const policy = compilePolicy(synthetic.document);
  const queries = queryMix(synthetic, 65_536);
  // As the edge calls it: `at` is the request's start time, already read for the log line.
  const requestStart = Date.now();
  const timed = queries.map(({ host, country }) => ({ host, country, at: requestStart }));
  const names = new Set([...synthetic.exact, ...synthetic.subtreeBases, ...synthetic.wildcardBases]);
  decisionsPerSecond(policy, timed, 500); // warm-up
  const decide = median(Array.from({ length: RUNS }, () => decisionsPerSecond(policy, timed)));
  const decideNow = median(Array.from({ length: RUNS }, () => decisionsPerSecond(policy, queries)));
  const floor = median(Array.from({ length: RUNS }, () => mapLookupsPerSecond(names, queries)));
  console.log(
    `decide({ host, country, at }):  ${millions(decide)}  (${(1e9 / decide).toFixed(0)} ns/decision; target >= 5 M/s)`,
  );
  console.log(`decide({ host, country }):      ${millions(decideNow)}  (at defaults to Date.now())`);
  console.log(
    `baseline Set.has(raw host):     ${millions(floor)}  (decide costs ${(floor / decide).toFixed(1)}x one raw lookup)`,
  );
}

/** Index lookups per decision, counted by wrapping HostIndex.lookup for one pass over the queries. */
function lookupsPerDecision(policy: Policy, queries: Query[]): number {
  const original = HostIndex.prototype.lookup;
  let lookups = 0;
  HostIndex.prototype.lookup = function (this: HostIndex, ...args: Parameters<HostIndex['lookup']>) {
    lookups++;
    return original.apply(this, args);
  };
  try {
    for (const query of queries) policy.decide(query);
  } finally {
    HostIndex.prototype.lookup = original;
  }
  return lookups / queries.length;
}

function scaleFigures(): void {
  console.log(`\n## decide() cost vs number of hosts (same mix), median of ${RUNS}`);
  let baseline: number | undefined;
  for (const hostCount of [1_000, 10_000, 100_000, 1_000_000]) {
    const synthetic = syntheticPolicy(hostCount);
    const policy = compilePolicy(synthetic.document);
    const requestStart = Date.now();
    const queries = queryMix(synthetic, 65_536).map(({ host, country }) => ({
      host,
      country,
      at: requestStart,
    }));
    const lookups = lookupsPerDecision(policy, queries);
    decisionsPerSecond(policy, queries, 300);
    const rate = median(Array.from({ length: RUNS }, () => decisionsPerSecond(policy, queries, 700)));
    baseline ??= rate;
    const label = hostCount.toLocaleString('en-US').padStart(9);
    const ratio = (baseline / rate).toFixed(2);
    console.log(
      `${label} hosts: ${millions(rate)}  (${ratio}x the cost at 1,000 hosts; ${lookups.toFixed(2)} lookups/decision)`,
    );
    collectGarbage();
  }
}

/** JS heap plus ArrayBuffer backing stores (the index's typed arrays live outside the JS heap). */
function memoryInUse(): number {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

function compileFigures(): void {
  console.log(`\n## compilePolicy(): 1,000,000 hosts from a parsed document, median of ${RUNS}`);
  const synthetic = syntheticPolicy(1_000_000);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const retained: number[] = [];
  const totals: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    collectGarbage();
    const before = memoryInUse();
    const start = performance.now();
    const startCpu = cpuMs();
    let policy: Policy | undefined = compilePolicy(synthetic.document);
    times.push(performance.now() - start);
    cpuTimes.push(cpuMs() - startCpu);
    collectGarbage();
    const after = memoryInUse();
    retained.push(after - before);
    totals.push(after);
    if (policy.hostCount !== 1_000_000) throw new Error(`expected 1,000,000 hosts, got ${policy.hostCount}`);
    policy = undefined;
  }
  console.log(
    `compile time:             ${ms(median(times))} wall, ${ms(median(cpuTimes))} CPU  (target < 3 s)`,
  );
  console.log(
    `memory held by the policy: ${mb(median(retained))}  (JS heap + typed arrays; target < 300 MB)`,
  );
  console.log(`memory in use, with the 1M-host document itself: ${mb(median(totals))}`);
}

function timed<T>(action: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = action();
  return { value, ms: performance.now() - start };
}

async function applyFigures(): Promise<void> {
  console.log('\n## apply() with 1,000,000 hosts compiled (DECISIONS #14: < 50 ms), median of 21');
  const synthetic = syntheticPolicy(1_000_000);
  let policy = compilePolicy(synthetic.document, { compaction: 'manual' });
  const notify: number[] = [];
  const firstBlock: number[] = [];
  const lift: number[] = [];
  const notifyHundred: number[] = [];
  for (let run = 0; run < 21; run++) {
    const host = `mirror-${run}.motogp-bench.example`;
    const change = {
      type: 'notify',
      orderId: 'order-3',
      hosts: [host],
      notifiedBy: 'ARCOM',
      reference: `n-${run}`,
    } as const;
    const start = performance.now();
    const { value: notified, ms: notifyMs } = timed(() => policy.apply(change));
    if (!notified.decide({ host, country: 'FR' }).blocked)
      throw new Error('the notified host is not blocked');
    firstBlock.push(performance.now() - start);
    notify.push(notifyMs);
    const liftChange = { type: 'lift-host', orderId: 'order-3', host, liftedBy: 'court' } as const;
    const { value: lifted, ms: liftMs } = timed(() => notified.apply(liftChange));
    lift.push(liftMs);
    const hosts = Array.from({ length: 100 }, (_, index) => `m${index}-${run}.bulk-bench.example`);
    const bulk = {
      type: 'notify',
      orderId: 'order-5',
      hosts,
      notifiedBy: 'ARCOM',
      reference: `bulk-${run}`,
    } as const;
    const { value: bulkNotified, ms: bulkMs } = timed(() => lifted.apply(bulk));
    notifyHundred.push(bulkMs);
    policy = bulkNotified;
  }
  console.log(`notify 1 host:            ${ms(median(notify))}`);
  console.log(
    `notify, then first 451:   ${ms(median(firstBlock))}  (nginx 1.22, 1M-entry map: 5.6 s reload)`,
  );
  console.log(`lift-host:                ${ms(median(lift))}`);
  console.log(`notify 100 hosts:         ${ms(median(notifyHundred))}`);
  console.log(`overlay after 63 changes: ${policy.stats.overlayNames} names`);
  const recompile = timed(() => compilePolicy(policy.toDocument()));
  console.log(
    `baseline full recompile:  ${ms(recompile.ms)}  (toDocument + compilePolicy; ${(recompile.ms / median(notify)).toFixed(0)}x a notify)`,
  );
  const compacted = timed(() => policy.compact());
  console.log(`compact() (synchronous):  ${ms(compacted.ms)}`);
  const background = performance.now();
  let longestTurn = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    longestTurn = Math.max(longestTurn, now - last);
    last = now;
  }, 1);
  await policy.compactInBackground();
  clearInterval(ticker);
  console.log(
    `compactInBackground():    ${ms(performance.now() - background)} wall, longest event-loop turn ${ms(longestTurn)}`,
  );
}

console.log(`@edge451/policy benchmark — Node ${process.version}, ${process.arch}`);
decideFigures();
scaleFigures();
collectGarbage();
compileFigures();
collectGarbage();
await applyFigures();
