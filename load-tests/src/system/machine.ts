import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, cpus, loadavg, release, totalmem, type } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readAllStats, ticksToSeconds } from './process-tree.js';
import type { Tools } from './tools.js';

/** What the report says about the machine and the software measured. */
export type MachineInfo = {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  edge451: string;
  autocannon: string;
  wrk: string;
  nginx: string;
  loadAverage: [number, number, number];
  /** Other processes using over 20 % of a core during a 1 s sample: the figures are noisy when any are. */
  busyProcesses: string[];
  takenAt: string;
};

/** Describes the machine now, including a 1 s sample of other busy processes. */
export async function describeMachine(tools: Tools): Promise<MachineInfo> {
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()} ${arch()}`,
    node: process.version,
    edge451: edgeVersion(),
    autocannon: packageVersion('autocannon'),
    wrk: tools.wrk?.version ?? 'not installed',
    nginx: tools.nginx?.version ?? 'not installed',
    loadAverage: [one, five, fifteen],
    busyProcesses: await busyProcesses(),
    takenAt: new Date().toISOString(),
  };
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function edgeVersion(): string {
  const version = packageVersion('@edge451/edge');
  const git = (args: string[]) =>
    execFileSync('git', ['-C', repoRoot, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  try {
    const commit = git(['rev-parse', '--short', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--', 'packages']);
    return `${version} (commit ${commit}${dirty === '' ? '' : ' + uncommitted changes'})`;
  } catch {
    return version;
  }
}

function packageVersion(name: string): string {
  try {
    const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function busyProcesses(): Promise<string[]> {
  let first: ReturnType<typeof readAllStats>;
  try {
    first = readAllStats();
  } catch {
    return [];
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const second = readAllStats();
  const before = new Map(first.map((stat) => [stat.pid, stat.utimeTicks + stat.stimeTicks]));
  const busy: { share: number; text: string }[] = [];
  for (const stat of second) {
    if (stat.pid === process.pid) continue;
    const previous = before.get(stat.pid);
    if (previous === undefined) continue;
    const share = ticksToSeconds(stat.utimeTicks + stat.stimeTicks - previous);
    if (share >= 0.2)
      busy.push({
        share,
        text: `${commandLine(stat.pid, stat.comm)} (${Math.round(share * 100)} % of a core)`,
      });
  }
  return busy.sort((a, b) => b.share - a.share).map((entry) => entry.text);
}

function commandLine(pid: number, fallback: string): string {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    const short = text.replace(/\/\S*\/(node_modules|\.pnpm)\/\S*\//g, '…/');
    return short.length > 90 ? `${short.slice(0, 90)}…` : short || fallback;
  } catch {
    return fallback;
  }
}
