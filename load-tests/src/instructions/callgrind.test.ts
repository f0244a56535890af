import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Launched, launch } from '../system/launch.js';
import { detectPinning } from '../system/pinning.js';
import { Callgrind, marginalPerRequest, readTotal } from './callgrind.js';
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

describe('Callgrind', () => {
  let dir: string;
  let callgrind: Callgrind;
  let launched: Launched;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge451-callgrind-test-'));
    const found = Callgrind.find(dir);
    if (found === undefined) throw new Error('valgrind is not installed (.ci/run installs it)');
    callgrind = found;
    launched = launch(
      {
        name: 'counted',
        command: process.execPath,
        args: ['-e', server],
        cpus: '0',
        wrapper: callgrind.wrapper(),
      },
      { ...detectPinning(), available: false },
    );
    const line = await launched.waitForLine((text) => text.includes('"ready":true'), 120_000);
    url = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
    await sendRequests(url, [{ path: '/', host: 'localhost', status: 200 }], 200);
  }, 180_000);

  afterAll(async () => {
    await launched?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('counts only what happens while measuring, and more for more work', async () => {
    const light = await callgrind.measure(launched.pid, () =>
      sendRequests(url, [{ path: '/', host: 'localhost', status: 200 }], 50),
    );
    const heavy = await callgrind.measure(launched.pid, () =>
      sendRequests(url, [{ path: '/heavy', host: 'localhost', status: 200 }], 50),
    );
    expect(light.dumpFile).toMatch(new RegExp(`callgrind\\.${launched.pid}\\.1-01$`));
    expect(heavy.dumpFile).toMatch(new RegExp(`callgrind\\.${launched.pid}\\.2-01$`));
    expect(light.instructions).toBeGreaterThan(0);
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

describe('readTotal', () => {
  test('reads the totals line, or the summary line, of a callgrind file', () => {
    expect(readTotal('version: 1\nevents: Ir\nsummary: 0\ntotals: 123456\n')).toBe(123456);
    expect(readTotal('events: Ir\nsummary: 42\n')).toBe(42);
    expect(() => readTotal('not a callgrind file')).toThrow('no totals or summary line');
  });
});

describe('marginalPerRequest', () => {
  test('cancels a cost every window carries, whatever it holds', () => {
    const window = (requests: number) => ({ requests, instructions: 40_000_000 + requests * 62_000 });
    expect(marginalPerRequest(window(2_000), window(10_000))).toBe(62_000);
    expect(() => marginalPerRequest(window(10_000), window(2_000))).toThrow(/larger window/);
  });
});
