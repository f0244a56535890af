import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { createHttpCache } from '@edge451/cache';
import { describe, expect, test } from 'vitest';
import { bodyOf, cacheRequest, fetchThrough, manualClock, waitFor } from './support/client.js';
import { fetchFrom } from './support/fetch-origin.js';
import { closedPort, startOrigin } from './support/origin.js';

/** An origin gate: answers wait until the test opens it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('request coalescing', () => {
  test('100 concurrent misses for one URL cause exactly one origin request', async () => {
    const answer = gate();
    const origin = await startOrigin(async (_request, response) => {
      await answer.opened;
      response.writeHead(200, { 'cache-control': 'max-age=60' }).end('shared body');
    });
    const cache = createHttpCache();
    const replies = Array.from({ length: 100 }, () => fetchThrough(cache, origin, cacheRequest('/storm')));
    await waitFor(() => origin.count() >= 1, 'the first request to reach the origin');
    answer.open();

    const results = await Promise.all(replies);
    expect(results.map((reply) => reply.text)).toEqual(Array(100).fill('shared body'));
    expect(origin.count()).toBe(1);
    expect(results.filter((reply) => reply.collapsed)).toHaveLength(99);
    expect(cache.stats.collapsedRequests).toBe(99);
    // Each reply's headers are its own object: the edge turns them into the client's in place.
    const hit = await fetchThrough(cache, origin, cacheRequest('/storm'));
    expect(new Set([...results, hit].map((reply) => reply.headers)).size).toBe(101);
    const waiter = results.find((reply) => reply.collapsed);
    expect(waiter).toMatchObject({
      outcome: 'miss',
      cacheStatus: 'edge451; fwd=uri-miss; fwd-status=200; collapsed; ttl=60',
    });
  });

  test('concurrent requests for a stale entry share one conditional request and its 304', async () => {
    const origin = await startOrigin((_request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=10', etag: '"r"' }).end('revalidate me');
    });
    const clock = manualClock();
    const cache = createHttpCache({ clock });
    await fetchThrough(cache, origin, cacheRequest('/stale'));
    clock.advance(11);
    const answer = gate();
    origin.answer(async (_request, response) => {
      await answer.opened;
      response.writeHead(304, { 'cache-control': 'max-age=10', etag: '"r"' }).end();
    });
    const replies = Array.from({ length: 50 }, () => fetchThrough(cache, origin, cacheRequest('/stale')));
    await waitFor(() => origin.count() >= 2, 'the conditional request');
    answer.open();
    const results = await Promise.all(replies);
    expect(results.every((reply) => reply.outcome === 'revalidated' && reply.text === 'revalidate me')).toBe(
      true,
    );
    expect(results.filter((reply) => reply.collapsed)).toHaveLength(49);
    expect(origin.count()).toBe(2);
  });

  test('waiters are released the moment the response turns out not storable, without waiting for its body', async () => {
    const bodies = gate();
    const origin = await startOrigin(async (_request, response) => {
      response.writeHead(200, { 'cache-control': 'private' });
      response.write('part one, ');
      await bodies.opened;
      response.end('part two');
    });
    const cache = createHttpCache();
    const replies = Array.from({ length: 10 }, () => fetchThrough(cache, origin, cacheRequest('/private')));
    // Every request reaches the origin while the first response's body is still open.
    await waitFor(() => origin.count() === 10, 'all ten requests at the origin');
    bodies.open();
    for (const reply of await Promise.all(replies)) {
      expect(reply).toMatchObject({ outcome: 'miss', notStored: 'private', text: 'part one, part two' });
      expect(reply.collapsed).toBeUndefined();
    }
  });

  test('a URL whose response was not storable is not coalesced again for a while', async () => {
    const headersSent = gate();
    const origin = await startOrigin(async (_request, response) => {
      await headersSent.opened;
      response.writeHead(200, { 'cache-control': 'no-store' }).end('fresh every time');
    });
    const cache = createHttpCache();
    headersSent.open();
    await fetchThrough(cache, origin, cacheRequest('/dynamic'));

    const held = gate();
    origin.answer(async (_request, response) => {
      await held.opened;
      response.writeHead(200, { 'cache-control': 'no-store' }).end('fresh every time');
    });
    const replies = Array.from({ length: 5 }, () => fetchThrough(cache, origin, cacheRequest('/dynamic')));
    // None of them queues behind another: all five are at the origin before it answers any.
    await waitFor(() => origin.count() === 6, 'five concurrent requests at the origin');
    held.open();
    expect((await Promise.all(replies)).every((reply) => reply.notStored === 'origin-no-store')).toBe(true);
  });

  test('a client leaving a URL remembered as uncacheable stops its origin fetch, before the headers and mid-body', async () => {
    const origin = await startOrigin((_request, response) => {
      response.writeHead(200, { 'cache-control': 'no-store' }).end('remembered');
    });
    const cache = createHttpCache();
    expect((await fetchThrough(cache, origin, cacheRequest('/solo'))).notStored).toBe('origin-no-store');

    let waiting: ServerResponse | undefined;
    origin.answer((_request, response) => {
      waiting = response; // never answers
    });
    const early = new AbortController();
    const beforeHeaders = cache.serve(cacheRequest('/solo'), fetchFrom(origin.port, '/solo'), early.signal);
    await waitFor(() => waiting !== undefined, 'the origin request');
    const closedEarly = new Promise((resolve) => waiting?.on('close', resolve));
    early.abort(new Error('left before the headers'));
    await expect(beforeHeaders).rejects.toThrow(); // the fetch's own abort error
    await closedEarly;

    let streaming: ServerResponse | undefined;
    origin.answer((_request, response) => {
      streaming = response;
      response.writeHead(200, { 'cache-control': 'no-store' }).write('first half, ');
    });
    const late = new AbortController();
    const reply = await cache.serve(cacheRequest('/solo'), fetchFrom(origin.port, '/solo'), late.signal);
    expect(reply.notStored).toBe('origin-no-store');
    const closedLate = new Promise((resolve) => streaming?.on('close', resolve));
    late.abort(new Error('left mid-body'));
    await closedLate;
    expect((reply.body as Readable).destroyed).toBe(true);
    expect(streaming?.writableFinished).toBe(false);
  });

  test("waiters still get the response when the leader's client leaves before the headers", async () => {
    const answer = gate();
    const origin = await startOrigin(async (_request, response) => {
      await answer.opened;
      response.writeHead(200, { 'cache-control': 'max-age=60' }).end('for the waiters');
    });
    const cache = createHttpCache();
    const leaderClient = new AbortController();
    const leader = cache.serve(cacheRequest('/l'), fetchFrom(origin.port, '/l'), leaderClient.signal);
    const waiters = Array.from({ length: 5 }, () => fetchThrough(cache, origin, cacheRequest('/l')));
    await waitFor(() => origin.count() >= 1, 'the origin request');
    leaderClient.abort(new Error('client went away'));
    await expect(leader).rejects.toThrow('client went away');
    answer.open();

    for (const reply of await Promise.all(waiters))
      expect(reply).toMatchObject({ text: 'for the waiters', collapsed: true });
    expect(origin.count()).toBe(1);
    expect(cache.stats.entries).toBe(1);
  });

  test("the fill goes on for waiters and the store when the leader's client leaves mid-body", async () => {
    const rest = gate();
    const origin = await startOrigin(async (_request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=60' });
      response.write('first half, ');
      await rest.opened;
      response.end('second half');
    });
    const cache = createHttpCache();
    const leaderClient = new AbortController();
    const leader = await cache.serve(cacheRequest('/m'), fetchFrom(origin.port, '/m'), leaderClient.signal);
    const waiters = Array.from({ length: 3 }, () => fetchThrough(cache, origin, cacheRequest('/m')));
    leaderClient.abort();
    expect((leader.body as Readable).destroyed).toBe(true);
    rest.open();
    for (const reply of await Promise.all(waiters)) expect(reply.text).toBe('first half, second half');
    expect(await leader.storing).toBe('stored');
    expect(origin.count()).toBe(1);
  });

  test('the origin request is aborted when every request waiting for it has gone', async () => {
    let originResponse: ServerResponse | undefined;
    const origin = await startOrigin((_request, response) => {
      originResponse = response; // never answers
    });
    const cache = createHttpCache();
    const clients = Array.from({ length: 3 }, () => new AbortController());
    const replies = clients.map((client) =>
      cache.serve(cacheRequest('/gone'), fetchFrom(origin.port, '/gone'), client.signal),
    );
    await waitFor(() => originResponse !== undefined, 'the origin request');
    const closed = new Promise((resolve) => originResponse?.on('close', resolve));
    for (const client of clients) client.abort(new Error('left'));
    await Promise.allSettled(replies);
    await closed;
    expect(originResponse?.writableFinished).toBe(false);
  });

  test('waiters are released as soon as a body without Content-Length outgrows maxEntryBytes', async () => {
    const rest = gate();
    const origin = await startOrigin(async (_request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=60' });
      response.write('x'.repeat(4096));
      await rest.opened;
      response.end('end');
    });
    const cache = createHttpCache({ maxBytes: 100_000, maxEntryBytes: 1024 });
    const replies = Array.from({ length: 4 }, () => fetchThrough(cache, origin, cacheRequest('/big')));
    await waitFor(() => origin.count() === 4, 'the released waiters at the origin');
    rest.open();
    const results = await Promise.all(replies);
    expect(results.every((reply) => reply.text.length === 4099)).toBe(true);
    expect(await Promise.all(results.map((reply) => reply.storing))).toContain('too-large');
    expect(cache.stats.entries).toBe(0);
  });

  test("an origin failure reaches every waiter as the leader's error, with one connection attempt", async () => {
    const down = await closedPort();
    const fetchOrigin = fetchFrom(down, '/down');
    const cache = createHttpCache();
    const replies = Array.from({ length: 10 }, () =>
      cache.serve(cacheRequest('/down'), fetchOrigin, new AbortController().signal),
    );
    const results = await Promise.allSettled(replies);
    expect(
      results.every(
        (result) => result.status === 'rejected' && result.reason.code === 'EDGE_ORIGIN_UNREACHABLE',
      ),
    ).toBe(true);
    expect(fetchOrigin.calls).toBe(1);
  });

  test('a waiter whose Vary variant differs from the response goes to the origin itself', async () => {
    const answer = gate();
    const origin = await startOrigin(async (request, response) => {
      await answer.opened;
      response
        .writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' })
        .end(`${request.headers['accept-language']}`);
    });
    const cache = createHttpCache();
    const french = fetchThrough(cache, origin, cacheRequest('/v', { 'accept-language': 'fr' }));
    const english = fetchThrough(cache, origin, cacheRequest('/v', { 'accept-language': 'en' }));
    await waitFor(() => origin.count() >= 1, 'the first request');
    answer.open();
    expect((await french).text).toBe('fr');
    expect((await english).text).toBe('en');
    expect(origin.count()).toBe(2);
  });

  test('a HEAD arriving during a GET miss waits for it and is answered from the stored response', async () => {
    const answer = gate();
    const origin = await startOrigin(async (_request, response) => {
      await answer.opened;
      response.writeHead(200, { 'cache-control': 'max-age=60' }).end('abc');
    });
    const cache = createHttpCache();
    const get = fetchThrough(cache, origin, cacheRequest('/hg'));
    const head = cache.serve(
      cacheRequest('/hg', {}, 'HEAD'),
      fetchFrom(origin.port, '/hg'),
      new AbortController().signal,
    );
    await waitFor(() => origin.count() >= 1, 'the GET');
    answer.open();
    expect((await get).text).toBe('abc');
    const headReply = await head;
    expect(headReply).toMatchObject({ status: 200, body: null, collapsed: true });
    expect(headReply.headers['content-length']).toBe('3');
    expect(await bodyOf(headReply)).toBe('');
    expect(origin.count()).toBe(1);
  });
});
