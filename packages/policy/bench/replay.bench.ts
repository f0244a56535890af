// Prints what replaying stored changes costs (packages/policy/README.md quotes it): the loop of
// apply(change, { replay: true }) the edge used before, replay(), and replayInBackground() with the longest
// event-loop turn it caused. Not a test: no pass/fail. Run: pnpm --filter @edge451/policy bench:replay
import { compilePolicy, type PolicyChange, type PolicyDocument } from '../src/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SIZES = [1_000, 10_000, 20_000];
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

// The shape of the edge's probe: one order in the files, then N notifications of one new host each, as
// the state directory stores them (dated, hosts normalised).
const files: PolicyDocument = {
  orders: [
    {
      id: 'fr-2025-motogp',
      authority: 'Tribunal judiciaire de Paris',
      reference: 'RG 25/00000',
      countries: ['FR-ALL'],
      hosts: ['motogpstream.me'],
    },
  ],
};

function storedChanges(count: number): PolicyChange[] {
  const base = Date.parse('2026-01-01T00:00:00Z');
  return Array.from({ length: count }, (_, index) => ({
    type: 'notify',
    orderId: 'fr-2025-motogp',
    hosts: [`h${index}.mirrors.test`],
    notifiedBy: 'ARCOM',
    reference: `Notification ${index}`,
    at: new Date(base + index).toISOString(),
  }));
}

function byApplyLoop(changes: readonly PolicyChange[]): number {
  const start = performance.now();
  let policy = compilePolicy(files);
  for (const change of changes) policy = policy.apply(change, { replay: true });
  return performance.now() - start;
}

function byReplay(changes: readonly PolicyChange[]): number {
  const start = performance.now();
  compilePolicy(files).replay(changes);
  return performance.now() - start;
}

/** Wall time, and the longest gap between turns of a 1 ms timer meanwhile (what a request could wait). */
async function byReplayInBackground(changes: readonly PolicyChange[]): Promise<[number, number]> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const start = performance.now();
  await compilePolicy(files).replayInBackground(changes);
  const wall = performance.now() - start;
  clearInterval(ticker);
  longest = Math.max(longest, performance.now() - last);
  return [wall, longest];
}

console.log(`## Replaying N stored notifications over the policy files, median of ${RUNS}`);
console.log(
  'N       | apply() loop (before) | replay()  | replayInBackground() | its longest event-loop turn',
);
for (const size of SIZES) {
  const changes = storedChanges(size);
  const loop = median(Array.from({ length: RUNS }, () => byApplyLoop(changes)));
  const replay = median(Array.from({ length: RUNS }, () => byReplay(changes)));
  const background: [number, number][] = [];
  for (let run = 0; run < RUNS; run++) background.push(await byReplayInBackground(changes));
  console.log(
    [
      String(size).padEnd(7),
      seconds(loop).padEnd(21),
      seconds(replay).padEnd(9),
      seconds(median(background.map(([wall]) => wall))).padEnd(20),
      `${median(background.map(([, turn]) => turn)).toFixed(1)} ms`,
    ].join(' | '),
  );
}
