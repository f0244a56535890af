import { Agent, get } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { benchPaths } from '../origin/canned-responses.js';
import { probe } from '../system/http-probe.js';
import type { Launched } from '../system/launch.js';
import { detectPinning } from '../system/pinning.js';
import { benchHost, startTcpRelay } from './bench-world.js';
import { startScript } from './start-candidate.js';

describe('the bare TCP relay of the latency scenario', () => {
  const launched: Launched[] = [];
  let originUrl: string;
  let relayUrl: string;

  beforeAll(async () => {
    const pinning = { ...detectPinning(), available: false };
    const origin = await startScript('origin', 'origin/origin-main.ts', [], '0', pinning);
    launched.push(origin.launched);
    originUrl = origin.url;
    const relay = await startTcpRelay(origin.url, '0', pinning);
    launched.push(relay.launched);
    relayUrl = relay.url;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(launched.map((each) => each.stop()));
  });

  test("answers with the origin's own bytes, request after request on one kept-alive connection", async () => {
    const shape = { path: benchPaths.pass1k, host: benchHost };
    const direct = await probe(originUrl, shape);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const relayed = [await getVia(agent, shape.path), await getVia(agent, shape.path)];
      expect(relayed.map((each) => each.reusedSocket)).toEqual([false, true]);
      for (const response of relayed) {
        expect(response.status).toBe(200);
        expect(response.body.equals(direct.body)).toBe(true);
        expect(response.cacheControl).toBe(direct.headers['cache-control']);
      }
      const counted = await probe(originUrl, { path: '/__origin/count?prefix=/none', host: benchHost });
      expect(JSON.parse(counted.body.toString()).total).toBe(3);
    } finally {
      agent.destroy();
    }
  });

  /** A GET through the relay on `agent`, and whether node:http sent it on a connection used before. */
  function getVia(agent: Agent, path: string) {
    return new Promise<{ status: number; body: Buffer; cacheControl?: string; reusedSocket: boolean }>(
      (resolve, reject) => {
        const req = get(new URL(path, relayUrl), { agent, headers: { Host: benchHost } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks),
              cacheControl: res.headers['cache-control'],
              reusedSocket: req.reusedSocket,
            }),
          );
        });
        req.setTimeout(3_000, () => req.destroy(new Error('no answer through the relay')));
        req.on('error', reject);
      },
    );
  }
});
