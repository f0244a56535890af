import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { benchPaths } from '../origin/canned-responses.js';
import { freePort, probe } from '../system/http-probe.js';
import type { Launched } from '../system/launch.js';
import { detectPinning } from '../system/pinning.js';
import { benchHost, startUndiciFloor } from './bench-world.js';
import { startScript } from './start-candidate.js';

describe('the node:http + undici floor of the pass-through tables', () => {
  const pinning = { ...detectPinning(), available: false };
  const launched: Launched[] = [];
  let originUrl: string;
  let floorUrl: string;

  beforeAll(async () => {
    const origin = await startScript('origin', 'origin/origin-main.ts', [], '0', pinning);
    launched.push(origin.launched);
    originUrl = origin.url;
    const floor = await startUndiciFloor(origin.url, '0', pinning);
    launched.push(floor.launched);
    floorUrl = floor.url;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(launched.map((each) => each.stop()));
  });

  test("answers with the origin's status, head and bytes, 1 KiB and 1 MiB alike", async () => {
    for (const path of [benchPaths.pass1k, benchPaths.pass1m]) {
      const shape = { path, host: benchHost };
      const [direct, floored] = [await probe(originUrl, shape), await probe(floorUrl, shape)];
      expect(floored.status).toBe(200);
      expect(floored.body.equals(direct.body)).toBe(true);
      expect(floored.headers['cache-control']).toBe('no-store');
      expect(floored.headers['content-type']).toBe(direct.headers['content-type']);
    }
    const missing = await probe(floorUrl, { path: '/not-a-bench-path', host: benchHost });
    expect(missing.status).toBe(404);
  });

  test('answers 502 when its origin cannot be reached', async () => {
    const floor = await startUndiciFloor(`http://127.0.0.1:${await freePort()}`, '0', pinning);
    launched.push(floor.launched);
    const response = await probe(floor.url, { path: benchPaths.pass1k, host: benchHost });
    expect(response.status).toBe(502);
  });
});
