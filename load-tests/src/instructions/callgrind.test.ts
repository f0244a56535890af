import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { type Launched, launch } from '../system/launch.js';
import { detectPinning } from '../system/pinning.js';
import { Callgrind, marginalPerRequest, readTotals } from './callgrind.js';
import { sendRequests } from './send-requests.js';

// A server whose work per request is known to grow: 1,000 multiplications per request, or 100,000 with
// `/heavy`. Inline, so the test depends on nothing but node and valgrind.
const server = `
const http = require('node:http');
http.createServer((req, res) => {
  let x = 1;
  for (let i = 0; i < (req.url === '/heavy' ? 100000 : 1000); i++) x = (x * 31 + i) | 0;
  res.end(String(x));
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ ready: true, port: this.address().port })); });
`;

/**
 * The inline server under callgrind, warmed up; `count(path, requests)` measures that many requests to
 * `path` (answered 200), and `stop` ends it and removes its dumps.
 */
async function startCounted(options: { cacheSim?: boolean; branchSim?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'edge451-callgrind-test-'));
  const callgrind = Callgrind.find(dir, options);
  if (callgrind === undefined) throw new Error('valgrind is not installed (.ci/run installs it)');
  const launched = launch(
    {
      name: 'counted',
      command: process.execPath,
      args: ['-e', server],
      cpus: '0',
      wrapper: callgrind.wrapper(),
    },
    { ...detectPinning(), available: false },
  );
  const stop = async () => {
    await launched.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const line = await launched.waitForLine((text) => text.includes('"ready":true'), 120_000);
    const url = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
    await sendRequests(url, [{ path: '/', host: 'localhost', status: 200 }], 200);
    const count = (path: string, requests: number) =>
      callgrind.measure(launched.pid, () =>
        sendRequests(url, [{ path, host: 'localhost', status: 200 }], requests),
      );
    return { callgrind, launched, url, count, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

describe('Callgrind', () => {
  let callgrind: Callgrind;
  let launched: Launched;
  let url: string;
  let count: Awaited<ReturnType<typeof startCounted>>['count'];
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ callgrind, launched, url, count, stop } = await startCounted());
  }, 180_000);

  afterAll(() => stop?.());

  test('counts only what happens while measuring, and more for more work', async () => {
    const light = await count('/', 50);
    const heavy = await count('/heavy', 50);
    expect(light.dumpFile).toMatch(new RegExp(`callgrind\\.${launched.pid}\\.1-01$`));
    expect(heavy.dumpFile).toMatch(new RegExp(`callgrind\\.${launched.pid}\\.2-01$`));
    expect(light.instructions).toBeGreaterThan(0);
    // No cache simulation unless asked for: instructions alone.
    expect(Object.keys(light.events)).toEqual(['Ir']);
    // Starting node alone costs hundreds of millions: counting from the start would show here.
    expect(light.instructions / 50).toBeLessThan(1_000_000);
    // 99,000 more loop iterations per request, each several instructions: far above the request itself.
    expect(heavy.instructions - light.instructions).toBeGreaterThan(50 * 99_000 * 2);
  }, 180_000);

  test('a status other than the expected one fails the measurement', async () => {
    await expect(
      callgrind.measure(launched.pid, () =>
        sendRequests(url, [{ path: '/', host: 'localhost', status: 404 }], 5),
      ),
    ).rejects.toThrow('status 200, expected 404');
  }, 60_000);
});

describe('Callgrind with the cache simulation', () => {
  test('also counts L1 misses', async () => {
    const { count, stop } = await startCounted({ cacheSim: true });
    onTestFinished(stop);
    const light = await count('/', 20);
    const heavy = await count('/heavy', 20);
    expect(light.instructions).toBe(light.events.Ir);
    for (const event of ['I1mr', 'D1mr', 'D1mw']) expect(light.events[event]).toBeGreaterThan(0);
    expect(heavy.instructions).toBeGreaterThan(light.instructions);
  }, 180_000);
});

describe('Callgrind with the branch simulation', () => {
  test('also counts branches and their mispredictions', async () => {
    const { count, stop } = await startCounted({ branchSim: true });
    onTestFinished(stop);
    const counted = await count('/', 20);
    for (const event of ['Bc', 'Bcm', 'Bi', 'Bim']) expect(counted.events[event]).toBeGreaterThan(0);
    expect(counted.events.Bcm).toBeLessThan(counted.events.Bc as number);
  }, 180_000);
});

describe('readTotals', () => {
  test('reads the totals line, or the summary line, of a callgrind file, by event name', () => {
    expect(readTotals('version: 1\nevents: Ir\nsummary: 0\ntotals: 123456\n')).toEqual({ Ir: 123456 });
    expect(readTotals('events: Ir\nsummary: 42\n')).toEqual({ Ir: 42 });
    // With --cache-sim=yes (this summary line is what callgrind 3.19 writes: 0, the totals follow).
    expect(readTotals('events: Ir Dr Dw I1mr D1mr D1mw\nsummary: 0\n\ntotals: 640 181 98 28 12 2\n')).toEqual(
      { Ir: 640, Dr: 181, Dw: 98, I1mr: 28, D1mr: 12, D1mw: 2 },
    );
    expect(() => readTotals('not a callgrind file')).toThrow('no totals or summary line');
  });
});

describe('marginalPerRequest', () => {
  test('cancels a cost every window carries, whatever it holds', () => {
    const window = (requests: number) => ({ requests, count: 40_000_000 + requests * 62_000 });
    expect(marginalPerRequest(window(2_000), window(10_000))).toBe(62_000);
    expect(() => marginalPerRequest(window(10_000), window(2_000))).toThrow(/larger window/);
  });
});
