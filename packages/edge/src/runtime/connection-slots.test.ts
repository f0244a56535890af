import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../lifecycle/context.js';
import { ConnectionSlots } from './connection-slots.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

function connection() {
  const socket = new PassThrough();
  socket.resume(); // flowing, as node:http leaves a socket it reads
  const ctx = () => ({ req: { socket } }) as unknown as RequestContext;
  return { socket, ctx };
}

describe('ConnectionSlots', () => {
  it('grants up to the cap at once, pauses the socket at it, and hands freed slots to waiting requests in order', async () => {
    const slots = new ConnectionSlots(2);
    const { socket, ctx } = connection();
    const [a, b, c, d] = [ctx(), ctx(), ctx(), ctx()];
    expect(slots.acquire(a)).toBeUndefined();
    expect(socket.isPaused()).toBe(false);
    expect(slots.acquire(b)).toBeUndefined();
    expect(socket.isPaused()).toBe(true);
    const granted: string[] = [];
    void slots.acquire(c)?.then(() => granted.push('c'));
    void slots.acquire(d)?.then(() => granted.push('d'));
    slots.release(a);
    await tick();
    expect(granted).toEqual(['c']);
    expect(socket.isPaused()).toBe(true);
    slots.release(b);
    await tick();
    expect(granted).toEqual(['c', 'd']);
    slots.release(c);
    expect(socket.isPaused()).toBe(false);
  });

  it('while at the cap, a resume by someone else (node:http after its output drained) is undone', async () => {
    const slots = new ConnectionSlots(1);
    const { socket, ctx } = connection();
    const a = ctx();
    slots.acquire(a);
    socket.resume();
    await tick();
    expect(socket.isPaused()).toBe(true);
    slots.release(a);
    await tick();
    expect(socket.isPaused()).toBe(false);
    // No longer at the cap: the edge leaves node's pausing alone.
    socket.pause();
    socket.resume();
    await tick();
    expect(socket.isPaused()).toBe(false);
  });

  it('a waiting request whose response closed goes on without taking a slot; answers that never took one release nothing', async () => {
    const slots = new ConnectionSlots(1);
    const { socket, ctx } = connection();
    const [a, b, gate] = [ctx(), ctx(), ctx()];
    slots.acquire(a);
    let released = false;
    void slots.acquire(b)?.then(() => {
      released = true;
    });
    slots.release(b);
    await tick();
    expect(released).toBe(true);
    slots.release(gate);
    expect(socket.isPaused()).toBe(true);
    slots.release(a);
    expect(socket.isPaused()).toBe(false);
  });

  it('connections are counted apart', () => {
    const slots = new ConnectionSlots(1);
    const one = connection();
    const two = connection();
    expect(slots.acquire(one.ctx())).toBeUndefined();
    expect(slots.acquire(two.ctx())).toBeUndefined();
    expect(one.socket.isPaused() && two.socket.isPaused()).toBe(true);
  });
});
