import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { clientIps, forwardedClientIp } from './support/blocking-order.js';
import { sampleValue } from './support/cluster.js';
import { adminToken, type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { startOrigin, streamBytes } from './support/origin.js';

// Denial-of-service probes: inputs a hostile client (or a hostile or broken origin) can send cheaply, and
// whether one edge node then grows its memory without bound, burns its CPU, stops serving other clients or
// dies. Real sockets, the real binary; what is measured is seen from outside: the RSS and CPU time of the
// edge process (/proc), whether another client is still answered, /metrics. Each test asserts the safe
// behaviour; six found bugs when they were written (2026-11-30), and their comments say what the attack was.

const host = 'www.example.com';
const KiB = 1024;
const MiB = 1024 * KiB;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Config for tests that flood: no per-request log lines (the ready line is info, so the level stays). */
const quietLog = { log: { level: 'info', sampleRate: 0 } };

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) * KiB;
}

/** User + system CPU time of a process, in milliseconds (/proc/PID/stat, clock ticks of 10 ms). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function edgeFor(origin: string, config: Record<string, unknown> = {}, site: Record<string, unknown> = {}) {
  return startEdge(testConfig({ sites: [{ name: 'site', hosts: [host], origin, ...site }], ...config }));
}

type Answer = { status: number | 'timeout'; body: string; ms: number };

/** GET through the edge; the status, or 'timeout' when the answer was not complete within `ms`. */
async function getWithin(
  url: string,
  path: string,
  ms: number,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const started = Date.now();
  try {
    const response = await request(`${url}${path}`, {
      headers: { host, ...headers },
      signal: AbortSignal.timeout(ms),
    });
    const body = await response.body.text();
    return { status: response.statusCode, body, ms: Date.now() - started };
  } catch {
    return { status: 'timeout', body: '', ms: Date.now() - started };
  }
}

/** A connection that sends `text`, waits for the first bytes of the answer, then never reads again. */
async function nonReader(url: string, text: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  onTestFinished(() => void socket.destroy());
  socket.on('error', () => undefined);
  socket.write(text);
  await once(socket, 'data');
  socket.pause();
  return socket;
}

async function metricsOf(edge: RunningEdge): Promise<string> {
  return (await (await request(`${edge.adminUrl}/metrics`)).body.text()).toString();
}

/** Runs `task(index)` for 0..count-1, `parallel` at a time. */
async function inParallel(count: number, parallel: number, task: (index: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

const getHead = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;

describe('clients that stop reading', () => {
  // Clients that stop reading a proxied response used to hold the site's origin connections for good (a
  // paused body is not timed by bodyMs, node:http has no send timeout, undici queues further requests
  // without a timer), and every other client of the site waited forever: `connections` idle TCP connections
  // were a complete denial of service. The send timeout (clientTimeouts.sendMs, nginx's send_timeout) cuts a
  // connection that takes nothing for that long, which aborts its origin request and frees the connection.
  it('four non-reading clients on a site with connections: 4, sendMs 1000: another client of the site is still answered within 5 s, and the cuts are counted', async () => {
    const origin = await startOrigin((req, res) => {
      if (req.url === '/big') return streamBytes(res, 256 * MiB, { 'cache-control': 'no-store' });
      res.end('small');
    });
    const edge = await edgeFor(
      origin.url,
      { ...quietLog, clientTimeouts: { sendMs: 1_000 } },
      { connections: 4 },
    );
    for (let index = 0; index < 4; index += 1) await nonReader(edge.url, getHead('/big'));
    await sleep(500);
    const answer = await getWithin(edge.url, '/small', 5_000);
    expect(answer.status).toBe(200);
    // Each is cut between sendMs and twice it after it stopped taking bytes.
    await sleep(2_500);
    expect(sampleValue(await metricsOf(edge), 'edge451_client_send_timeouts_total')).toBe(4);
  });

  // One connection could hold every origin connection of a site: node:http runs every pipelined request at
  // once, and each response queued behind the first one the client does not read holds its upstream body
  // paused. The send timeout cuts the connection (every response on it, each aborting its origin request);
  // the per-connection cap (connection-slots.ts) bounds how many origin requests one connection has at once.
  it('one connection pipelining five requests it never reads, sendMs 1000: another client of the site is still answered within 5 s', async () => {
    const origin = await startOrigin((req, res) => {
      if (req.url?.startsWith('/big')) return streamBytes(res, 256 * MiB, { 'cache-control': 'no-store' });
      res.end('small');
    });
    const edge = await edgeFor(
      origin.url,
      { ...quietLog, clientTimeouts: { sendMs: 1_000 } },
      { connections: 4 },
    );
    await nonReader(edge.url, [0, 1, 2, 3, 4].map((index) => getHead(`/big${index}`)).join(''));
    await sleep(500);
    const answer = await getWithin(edge.url, '/small', 5_000);
    expect(answer.status).toBe(200);
  });

  // While a body is collected for the store, the client's copy is queued without waiting for it (a slow
  // client must not slow the fill), so a client that stopped reading held the whole body, and once the
  // entry was stored nothing counted those bytes: 40 such connections on cache-busting URLs grew the RSS by
  // ~170 MiB with a 16 MiB cache. Bytes queued for a client now stay in the fill budget until it takes them;
  // once stalled clients hold the budget, new fills stream through with backpressure.
  it('40 clients that stop reading distinct cacheable ~7.5 MiB misses: the edge RSS grows by less than 96 MiB (cache of 16 MiB)', async () => {
    const size = 7.5 * MiB;
    const origin = await startOrigin((_req, res) =>
      streamBytes(res, size, { 'cache-control': 'max-age=600' }),
    );
    const edge = await edgeFor(origin.url, {
      ...quietLog,
      cache: { maxBytes: 16 * MiB, maxEntryBytes: 8 * MiB },
    });
    const pid = edge.process.pid ?? 0;
    expect((await getWithin(edge.url, '/warm', 10_000)).status).toBe(200);
    await sleep(300);
    const before = await rssOf(pid);
    for (let index = 0; index < 40; index += 1) {
      await nonReader(edge.url, getHead(`/video.mp4?cachebust=${index}`));
      await sleep(60);
    }
    await sleep(1_500);
    const grown = (await rssOf(pid)) - before;
    // The node still answers meanwhile (it is memory, not the event loop, that suffers).
    expect((await getWithin(edge.url, '/small', 5_000)).status).toBe(200);
    expect(grown).toBeLessThan(96 * MiB);
  });
});

describe('pipelining', () => {
  // Pipelined requests used to be unbounded per connection while their answers had not started (node:http
  // pauses a connection only once queued responses hold 16 KiB of output): one 0.9 MB write of 20,000 GETs
  // to a stalled origin started 20,000 lifecycles and grew the RSS by ~180 MiB. At MAX_FETCHES_PER_CONNECTION
  // fetches the edge stops reading the connection; what node parsed of the same read waits for a slot
  // before any flight or origin request.
  it('20,000 pipelined GETs for distinct URLs to an origin that never answers: the edge RSS grows by less than 64 MiB', async () => {
    const origin = await startOrigin(() => undefined);
    const edge = await edgeFor(origin.url, quietLog);
    const pid = edge.process.pid ?? 0;
    await sleep(300);
    const before = await rssOf(pid);
    const { hostname, port } = new URL(edge.url);
    const socket = connect(Number(port), hostname);
    onTestFinished(() => void socket.destroy());
    socket.on('error', () => undefined);
    let text = '';
    for (let index = 0; index < 20_000; index += 1) text += getHead(`/p${index}`);
    socket.write(text);
    await sleep(4_000);
    const grown = (await rssOf(pid)) - before;
    expect(edge.process.exitCode).toBeNull();
    expect(grown).toBeLessThan(64 * MiB);
  });
});

describe('a hostile or broken origin', () => {
  // An origin's `Vary` or `Connection` with a long run of spaces (legal bytes within the 16 KiB head undici
  // accepts) once cost ~0.2-0.5 s per evaluation of the stored response: http-cache-semantics 4.3 splits both
  // with a regular expression quadratic on such runs, and a hit re-evaluates its entry once a second. The
  // cache collapses the runs before the library sees them (packages/cache/src/list-whitespace.ts).
  it('16 hits on responses whose Vary or Connection holds 15,000 spaces take under 2 s (~20 ms normally, 3-8 s when parsed quadratically)', async () => {
    const spaces = `a${' '.repeat(15_000)}b`;
    const origin = await startOrigin((req, res) => {
      const field = req.url?.startsWith('/vary') ? 'vary' : 'connection';
      res.writeHead(200, { 'cache-control': 'max-age=600', [field]: spaces, 'content-length': '2' });
      res.end('ok');
    });
    const edge = await edgeFor(origin.url, quietLog);
    const paths = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((index) => [`/vary${index}`, `/connection${index}`]);
    for (const path of paths) expect((await getWithin(edge.url, path, 20_000)).status).toBe(200);
    expect(origin.requests).toHaveLength(16);
    // Past the second in which the kept answers were made: each hit evaluates its entry again.
    await sleep(1_100);
    const started = Date.now();
    for (const path of paths) expect((await getWithin(edge.url, path, 30_000)).status).toBe(200);
    const elapsed = Date.now() - started;
    expect(origin.requests).toHaveLength(16);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('Surrogate-Key of 1,200 keys, Cache-Tag of 800 and a Cache-Control of 400 directives (a 13 KiB head) on 50 URLs: stored and served fast, at most 256 tags indexed per response, purges by tag work', async () => {
    const surrogate = Array.from({ length: 1_200 }, (_, index) => `k${index}`).join(' ');
    const tags = Array.from({ length: 800 }, (_, index) => `t${index}`).join(',');
    const directives = Array.from({ length: 400 }, (_, index) => `x${index}=1`).join(', ');
    const origin = await startOrigin((_req, res) => {
      res.writeHead(200, {
        'cache-control': `${directives}, max-age=600`,
        'surrogate-key': surrogate,
        'cache-tag': tags,
        'content-length': '2',
      });
      res.end('ok');
    });
    const edge = await edgeFor(origin.url, quietLog);
    const started = Date.now();
    await inParallel(50, 8, async (index) => {
      const answer = await getWithin(edge.url, `/tagged${index}`, 5_000);
      expect(answer.status).toBe(200);
    });
    await inParallel(50, 8, async (index) => {
      expect((await getWithin(edge.url, `/tagged${index}`, 5_000)).status).toBe(200);
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(origin.requests).toHaveLength(50);
    const purge = async (surrogateKey: string) => {
      const response = await request(`${edge.adminUrl}/cache/purge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ surrogateKey }),
      });
      return (await response.body.json()) as { purged: number };
    };
    // Keys past the 256th of a response are not indexed: the index cannot be bloated by one origin.
    expect(await purge('k1199')).toEqual({ purged: 0 });
    expect(await purge('k0')).toEqual({ purged: 50 });
    expect(edge.process.exitCode).toBeNull();
  });

  it('stale-while-revalidate while the origin stalls: 300 requests for the stale key are all served stale at once, and only one refresh reaches the origin', async () => {
    let stall = false;
    const origin = await startOrigin((_req, res) => {
      if (stall) return; // never answers refreshes
      res.writeHead(200, {
        'cache-control': 'max-age=1, stale-while-revalidate=600',
        'content-length': '5',
      });
      res.end('stale');
    });
    const edge = await edgeFor(origin.url, quietLog);
    expect((await getWithin(edge.url, '/swr', 5_000)).status).toBe(200);
    stall = true;
    await sleep(2_100);
    const started = Date.now();
    await inParallel(300, 20, async () => {
      const answer = await getWithin(edge.url, '/swr', 5_000);
      expect([answer.status, answer.body]).toEqual([200, 'stale']);
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(origin.requests).toHaveLength(2);
    expect(sampleValue(await metricsOf(edge), 'edge451_cache_background_refreshes_total')).toBe(1);
  });
});

describe('the cache under many variants of one URL', () => {
  // An origin that varies on a header clients choose freely (`Vary: Accept-Language`, `User-Agent`, ...) lets
  // any client add a variant per request, and every lookup of the URL walks its variants: 3,000 of them made
  // each hit on it ~5x as costly, and reading them all kept them alive in the LRU. The store keeps at most
  // DEFAULT_MAX_VARIANTS_PER_KEY (200) variants per URL and refreshes only the one served.
  it('3,000 Accept-Language variants of one URL: a hit on it costs less than twice the CPU of a hit on a URL with one variant', async () => {
    const origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'Accept-Language', 'content-length': '2' });
      res.end('ok');
    });
    const edge = await edgeFor(origin.url, quietLog);
    const pid = edge.process.pid ?? 0;
    await inParallel(3_000, 32, (index) =>
      getWithin(edge.url, '/home', 20_000, { 'accept-language': `x-${index}` }),
    );
    await getWithin(edge.url, '/plain', 5_000, { 'accept-language': 'x-5' });
    // 200 variants of /home (the least recently used of the rest evicted) and /plain.
    expect(sampleValue(await metricsOf(edge), 'edge451_cache_entries')).toBe(201);
    const cpuFor = async (path: string) => {
      const before = await cpuMsOf(pid);
      await inParallel(600, 8, async () => {
        expect((await getWithin(edge.url, path, 10_000, { 'accept-language': 'x-5' })).status).toBe(200);
      });
      return (await cpuMsOf(pid)) - before;
    };
    await cpuFor('/plain'); // warm-up
    const plain = (await cpuFor('/plain')) + (await cpuFor('/plain'));
    const exploded = (await cpuFor('/home')) + (await cpuFor('/home'));
    expect(exploded).toBeLessThan(2 * plain + 150);
  });
});

describe('client input that stays cheap', () => {
  it('pathological forwarding, Connection, Cache-Control, Accept and If-None-Match fields from a trusted proxy are each answered within 2 s', async () => {
    const origin = await startOrigin();
    const trusted = { trustedProxies: ['127.0.0.0/8', '10.0.0.0/8'] };
    const config = (source: string) =>
      testConfig({
        ...quietLog,
        clientIp: { source, ...trusted },
        sites: [{ name: 'site', hosts: [host, '*.example.com'], origin: origin.url }],
      });
    const xffEdge = await startEdge(config('x-forwarded-for'));
    const forwardedEdge = await startEdge(config('forwarded'));
    const manyHeaders = Object.fromEntries(Array.from({ length: 1_000 }, (_, index) => [`h${index}`, '']));
    const cases: Array<[RunningEdge, Record<string, string>]> = [
      // 1,500 hops, all trusted: the whole chain is walked.
      [
        xffEdge,
        { 'x-forwarded-for': Array.from({ length: 1_500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(',') },
      ],
      [xffEdge, { 'x-forwarded-for': `1.2.3.4${' '.repeat(15_000)},` }],
      [forwardedEdge, { forwarded: `for="${'\\"'.repeat(5_000)}` }],
      [forwardedEdge, { forwarded: `for=1.2.3.4;${'a=b;'.repeat(3_000)}` }],
      [forwardedEdge, { forwarded: `${'for="x,'.repeat(1_500)}for=1.2.3.4` }],
      [xffEdge, { forwarded: `host="${'\\'.repeat(7_000)}` }],
      [xffEdge, { forwarded: ` host${' '.repeat(3)}`.repeat(2_000) }],
      [xffEdge, { 'x-forwarded-host': Array.from({ length: 900 }, (_, i) => `h${i}.example.com`).join(',') }],
      [xffEdge, { connection: Array.from({ length: 2_500 }, (_, i) => `c${i}`).join(','), ...manyHeaders }],
      [xffEdge, { 'cache-control': `no-store${' '.repeat(15_000)}x` }],
      [xffEdge, { 'cache-control': `,${' '.repeat(15_000)}x` }],
      [xffEdge, { accept: `text/html;q="${','.repeat(15_000)}` }],
      [xffEdge, { 'if-none-match': 'W/"a",'.repeat(2_000) }],
      [xffEdge, { 'accept-encoding': `gzip${' '.repeat(15_000)}x` }],
    ];
    for (const [edge, headers] of cases) {
      const answer = await getWithin(edge.url, '/x', 10_000, headers);
      expect({ headers: Object.keys(headers)[0], ms: answer.ms < 2_000 }).toEqual({
        headers: Object.keys(headers)[0],
        ms: true,
      });
      expect(answer.status).not.toBe('timeout');
    }
    expect(xffEdge.process.exitCode).toBeNull();
    expect(forwardedEdge.process.exitCode).toBeNull();
  });

  it('thousands of invented hosts (valid, invalid, unrouted and blocked under a wildcard order): RSS, log lines and /metrics series stay bounded', async () => {
    const origin = await startOrigin();
    const order = {
      id: 'wild-order',
      authority: 'Test court',
      reference: 'RG 1',
      countries: ['FR'],
      hosts: ['*.blocked.example'],
      from: '2025-01-01T00:00:00Z',
    };
    const edge = await startEdge(
      testConfig({
        clientIp: forwardedClientIp,
        policy: { files: ['policy.yaml'] },
        sites: [{ name: 'site', hosts: ['*.example.com', '*.blocked.example'], origin: origin.url }],
      }),
      { 'policy.yaml': { orders: [order] } },
    );
    const pid = edge.process.pid ?? 0;
    const label = (index: number) => `${'a'.repeat(50)}${index}`;
    const hostFor = (kind: number, index: number) =>
      [
        `${label(index)}.${label(index)}.${label(index)}.example.com`, // 200, memoised routes
        `${'x'.repeat(6_000)}${index}.example.com`, // 400: longer than a name may be
        `h${index}.unrouted.test`, // 421
        `${label(index)}.${label(index)}.blocked.example`, // 451 from FR, one page start per host
      ][kind] ?? '';
    const round = async (offset: number) =>
      inParallel(2_000, 16, async (index) => {
        const kind = index % 4;
        const response = await request(`${edge.url}/p`, {
          headers: {
            host: hostFor(kind, offset + index),
            'x-forwarded-for': kind === 3 ? clientIps.FR : clientIps.GB,
            accept: `text/html;q=0.${index % 10}, application/json;q=0.${(index + 3) % 10}`,
          },
        });
        await response.body.dump();
        expect(response.statusCode).toBe([200, 400, 421, 451][kind]);
      });
    await round(0);
    await sleep(300);
    const rssBefore = await rssOf(pid);
    const linesBefore = edge.logs().length;
    await round(10_000);
    await round(20_000);
    await sleep(300);
    expect((await rssOf(pid)) - rssBefore).toBeLessThan(64 * MiB);
    // At most one line per request (every request is logged at sampleRate 1; none writes more).
    expect(edge.logs().length - linesBefore).toBeLessThanOrEqual(4_000);
    const series = (await metricsOf(edge)).split('\n').filter((line) => /^edge451_\w+(\{|\s)/.test(line));
    expect(series.length).toBeLessThan(120);
  });

  it('admin API: a 64 MiB upload without a token is refused 401 unread; with a token, past 16 MiB, 413; the edge RSS stays flat', async () => {
    const origin = await startOrigin();
    const edge = await edgeFor(origin.url, quietLog);
    const pid = edge.process.pid ?? 0;
    const before = await rssOf(pid);
    const upload = async (authorization?: string) => {
      const chunk = Buffer.alloc(MiB, 32);
      let sent = 0;
      const body = new Readable({
        read() {
          sent += 1;
          this.push(sent <= 64 ? chunk : null);
        },
      });
      try {
        const response = await request(`${edge.adminUrl}/orders/x`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          body,
          signal: AbortSignal.timeout(15_000),
        });
        await response.body.dump();
        return response.statusCode;
      } catch (error) {
        // The edge may close the connection while the upload is still being written.
        return (error as { code?: string }).code ?? 'error';
      }
    };
    expect([401, 'UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']).toContain(await upload());
    expect([413, 'UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']).toContain(await upload(`Bearer ${adminToken}`));
    await sleep(300);
    expect((await rssOf(pid)) - before).toBeLessThan(48 * MiB);
    expect((await getWithin(edge.url, '/still', 5_000)).status).toBe(200);
  });
});
