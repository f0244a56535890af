import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { probe } from '../system/http-probe.js';
import type { Launched } from '../system/launch.js';
import { detectPinning } from '../system/pinning.js';
import {
  type BlockedAnswerFiles,
  blockedShape,
  startBareServer,
  startNaiveProxy,
  writeBenchEdgeConfig,
  writeBenchPolicy,
  writeBlockedAnswer,
} from './bench-world.js';
import { repeatedFields } from './blocked-answer.js';
import { renderNginxConfig } from './nginx-config.js';
import { startEdge, startScript } from './start-candidate.js';

/** A page but its request id, which each 451 has its own of (as many bytes in this test's three). */
const withoutRequestId = (page: Buffer) => page.toString('utf8').replace(/Request [^<]+</, 'Request …<');

/** Every field but the date, which moves. */
const withoutDate = ({ date: _, ...fields }: IncomingHttpHeaders) => fields;

describe('the 451 of the baselines', () => {
  const launched: Launched[] = [];
  let dir: string;
  let edgeUrl: string;
  let originUrl: string;
  let blockedHostsFile: string;
  let files: BlockedAnswerFiles;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge451-blocked-answer-test-'));
    const pinning = { ...detectPinning(), available: false };
    const origin = await startScript('origin', 'origin/origin-main.ts', [], '0', pinning);
    launched.push(origin.launched);
    originUrl = origin.url;
    const { policyFile, blockedHostsFile: hostsFile } = await writeBenchPolicy(dir);
    blockedHostsFile = hostsFile;
    const config = await writeBenchEdgeConfig(dir, 'edge', 1, origin.url, policyFile);
    const edge = await startEdge('edge', config.configFile, config.adminUrl, '0', pinning);
    launched.push(edge.launched);
    edgeUrl = config.url;
    ({ files } = await writeBlockedAnswer(dir, edgeUrl));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(launched.map((each) => each.stop()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test.each(['bare', 'naive'] as const)(
    'the %s baseline answers with the bytes edge451 answers (Date and request id aside)',
    async (baseline) => {
      const pinning = { ...detectPinning(), available: false };
      const started =
        baseline === 'bare'
          ? await startBareServer(files, '0', pinning)
          : await startNaiveProxy({ originUrl, blockedHostsFile, blocked: files }, '0', pinning);
      launched.push(started.launched);
      const [edge, answer] = await Promise.all([
        probe(edgeUrl, blockedShape),
        probe(started.url, blockedShape),
      ]);
      expect(edge.status).toBe(451);
      expect(edge.headers.link).toContain('rel="blocked-by"');
      expect(answer.status).toBe(451);
      expect(withoutDate(answer.headers)).toEqual(withoutDate(edge.headers));
      expect(withoutRequestId(answer.body)).toBe(withoutRequestId(edge.body));
    },
    60_000,
  );
});

describe('repeatedFields', () => {
  test('keeps the fields of the answer, drops those node:http writes for each response', () => {
    expect(
      repeatedFields({
        'content-type': 'text/html; charset=utf-8',
        'content-length': '614',
        'cache-control': 'no-store',
        link: '<https://example.test/blocks>; rel="blocked-by"',
        vary: 'Accept',
        date: 'Tue, 01 Dec 2026 05:02:26 GMT',
        connection: 'keep-alive',
        'keep-alive': 'timeout=75',
        'transfer-encoding': 'chunked',
        'set-cookie': ['a=1', 'b=2'],
      }),
    ).toEqual({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      link: '<https://example.test/blocks>; rel="blocked-by"',
      vary: 'Accept',
      'set-cookie': 'a=1, b=2',
    });
  });
});

describe('nginx 451 fields', () => {
  const options = {
    dir: '/tmp/x',
    port: 8080,
    originHostPort: '127.0.0.1:9000',
    mmdbFile: '/tmp/x.mmdb',
    geoip2Module: '/tmp/geoip2.so',
    blockedHostsMapFile: '/tmp/x.map',
    blockedCountries: ['FR'],
    serverNames: [['bench.test']],
    blockedBody: 'page',
    workerProcesses: 1,
    runAsRoot: false,
  } as const;

  test('are added to every 451, whatever its status', () => {
    const config = renderNginxConfig({
      ...options,
      blockedFields: [['link', '<https://example.test/blocks>; rel="blocked-by"']],
    });
    const denies = config.split('\n').filter((line) => line.includes('if ($deny)'));
    expect(denies).toHaveLength(2);
    for (const line of denies) {
      expect(line).toContain(`add_header link '<https://example.test/blocks>; rel="blocked-by"' always;`);
    }
  });

  test.each(["it's", 'a $variable', 'back\\slash', 'two\nlines'])(
    'refuse a value nginx would read as syntax: %j',
    (value) => {
      expect(() => renderNginxConfig({ ...options, blockedFields: [['link', value]] })).toThrow(
        /451 field link/,
      );
    },
  );
});
