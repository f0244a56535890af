import { PassThrough } from 'node:stream';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../lifecycle/context.js';
import { OpenResponses } from './open-responses.js';

function request(socket: object, payload?: unknown) {
  const res = new PassThrough();
  return { req: { socket }, res, payload } as unknown as RequestContext;
}

describe('OpenResponses', () => {
  it('counts, lists and forgets requests in any order', () => {
    const open = new OpenResponses();
    const socket = {};
    const [a, b, c, d] = [request(socket), request(socket), request(socket), request(socket)];
    for (const ctx of [a, b, c, d]) open.add(ctx);
    expect(open.size).toBe(4);
    open.delete(b);
    open.delete(b); // twice: the second is a no-op, as a Set's was
    expect(open.size).toBe(3);
    expect(new Set(open.requests())).toEqual(new Set([a, c, d]));
    open.delete(a);
    open.delete(d);
    expect([...open.requests()]).toEqual([c]);
    open.add(a);
    expect(new Set(open.requests())).toEqual(new Set([a, c]));
    open.delete(c);
    open.delete(a);
    expect(open.size).toBe(0);
    expect([...open.requests()]).toEqual([]);
  });

  it('finds the unfinished responses of one connection, and settles once they close', async () => {
    const open = new OpenResponses();
    const mine = {};
    const [first, second, other] = [request(mine), request(mine), request({})];
    for (const ctx of [first, second, other]) open.add(ctx);
    expect(open.earlierOn({} as never)).toBeUndefined();
    const earlier = open.earlierOn(mine as never);
    let settled = false;
    void earlier?.then(() => {
      settled = true;
    });
    first.res.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    second.res.destroy();
    await earlier;
    expect(settled).toBe(true);
  });

  // A long-lived JS Set that takes and drops one entry per request keeps every dropped entry alive through
  // scavenges once the Set itself is in old space: each rehash leaves the obsolete table pointing to the
  // next, and to the entries it held then, so every request's objects were promoted to old space (~3.7 KB a
  // pass-through request, a mark-compact every few seconds under load; load-tests README).
  it('does not keep requests it no longer holds alive through scavenges', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major'; execution: 'sync' }) => void;
    const open = new OpenResponses();
    const socket = {};
    const inFlight: RequestContext[] = [];
    const step = () => {
      const ctx = request(socket, new Array(128).fill(inFlight.length));
      open.add(ctx);
      inFlight.push(ctx);
      if (inFlight.length > 8) open.delete(inFlight.shift() as RequestContext);
    };
    for (let i = 0; i < 1000; i++) step();
    // As in a server that has run a while: the structure has been through a mark-compact (old space).
    gc({ type: 'major', execution: 'sync' });
    gc({ type: 'major', execution: 'sync' });
    const before = oldSpaceUsed();
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 500; i++) step();
      gc({ type: 'minor', execution: 'sync' });
    }
    // 20,000 requests of ~1.5 KB each: the Set promoted them all (~30 MB); now only the few in flight at a
    // scavenge can be.
    expect(oldSpaceUsed() - before).toBeLessThan(4 * 1024 * 1024);
  });
});

function oldSpaceUsed(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_used_size ?? 0;
}
