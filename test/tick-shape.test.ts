import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { edgeBinary, tempDir } from './support/edge.js';

// What V8 thinks of nextTick's queue-entry literal (packages/edge/src/runtime/tick-shape.ts) once a process
// has run its code: nextTicks, two full GCs with no entry queued (what the memory reducer of an idle edge
// does), nextTicks again. Read with V8's own %DebugPrint of nextTick's feedback, from a preload that runs
// when the process would exit; the state is per process and lasts for good, hence a process per case.
const preload = `
let done = false;
const ticks = (n) => new Promise((resolve) => {
  let left = n;
  const step = () => (--left === 0 ? resolve() : process.nextTick(step, 1));
  process.nextTick(step, 1);
});
const idle = () => new Promise((resolve) => setTimeout(resolve, 10));
process.on('beforeExit', async () => {
  if (done) return;
  done = true;
  await ticks(100);
  await idle();
  globalThis.gc();
  globalThis.gc();
  await idle();
  await ticks(100);
  new Function('f', 'return %DebugPrint(f)')(process.nextTick);
});
`;

describe('the shape of nextTick entries', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir({ 'preload.mjs': preload });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** What each keyed definition of the entry literal reads after the sequence, in a node running `args`. */
  async function literalFeedback(args: string[]): Promise<string[]> {
    const flags = [
      '--allow-natives-syntax',
      '--expose-gc',
      '--import',
      pathToFileURL(join(dir, 'preload.mjs')).href,
    ];
    // Into a file, not a pipe: %DebugPrint writes with C stdio, and through a pipe that edge451 had also
    // written its usage to (node:net then owns it, non-blocking) the print was cut short once in ~15 runs.
    const outFile = join(dir, `stdout-${args.length}.txt`);
    const out = await open(outFile, 'w');
    try {
      const child = spawn(process.execPath, [...flags, ...args], { stdio: ['ignore', out.fd, 'inherit'] });
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      await out.close();
    }
    return (await readFile(outFile, 'utf8'))
      .split('\n')
      .filter((line) => line.includes('DefineKeyedOwnPropertyInLiteral'))
      .map((line) => /MONOMORPHIC|MEGAMORPHIC|POLYMORPHIC/.exec(line)?.[0] ?? line);
  }

  test('in a bare node, the full GCs send it megamorphic', async () => {
    // The case tick-shape.ts exists for. If a newer Node no longer does this, tick-shape.ts can go.
    expect(await literalFeedback(['-e', ''])).toContain('MEGAMORPHIC');
  }, 30_000);

  test('in edge451, every keyed definition keeps its one map', async () => {
    const feedback = await literalFeedback([edgeBinary, 'help']);
    expect(feedback.length).toBeGreaterThanOrEqual(4);
    expect(new Set(feedback)).toEqual(new Set(['MONOMORPHIC']));
  }, 30_000);
});
