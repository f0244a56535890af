import type { Duplex } from 'node:stream';
import type { RequestContext } from '../lifecycle/context.js';

/**
 * Requests of one connection that may be fetching (origin or cache) at once. node:http runs the handler of
 * every pipelined request as soon as it is parsed, and pauses a connection only once queued responses hold
 * 16 KiB of output; a request still waiting for its origin holds none. So one write of 20,000 pipelined
 * GETs started 20,000 origin requests (~9 KiB of memory each, queued ahead of every other client's in the
 * site's pool). Eight keeps the parallelism a pipelining client could want (nginx answers pipelined
 * requests one at a time) while bounding what one connection holds: with the send timeout, a connection
 * that reads nothing holds at most eight origin connections, for at most `sendMs`.
 */
export const MAX_FETCHES_PER_CONNECTION = 8;

/** One connection's slots; a request holding or waiting for one of them points at it (`ctx.fetchSlot`). */
export type ConnectionSlot = {
  fetching: number;
  /** Requests parsed past the cap, in arrival order, each waiting for a slot. */
  readonly waiting: Map<RequestContext, () => void>;
  /** The edge paused reading the socket (node:http may pause it too, for its own reasons). */
  paused: boolean;
  readonly repause: () => void;
};

/**
 * Counts the fetches of each connection and, at the cap, stops reading it: `socket.pause()`, undone when a
 * slot frees. Gate answers (451, 400, 421, 308) never take a slot: they are written at once and node:http's
 * own output pause bounds them. node:http parses a whole read (up to 64 KiB) at once, so requests of that
 * read past the cap are parsed anyway: they pass the gate and wait here, before any cache flight or origin
 * request, holding only their request and response objects (the residual bound: one read's worth).
 *
 * Pausing composes with node:http's own pause: node resumes a socket it paused (`_paused`) once its output
 * drains, and re-pauses it on 'resume' while `_paused` is set (`onSocketResume`). The edge keeps its own
 * flag: while it is set, a 'resume' (node's, or anyone's) is answered by pausing again, as node does; and
 * the edge's resume, while node still wants the socket paused, is undone by node's listener.
 *
 * Every cache hit passes here: one WeakMap lookup to take a slot and none to give it back (the request
 * points at its connection's slots). A WeakSet of holders and a walk of the empty waiting list cost
 * ~1,300 instructions more per hit (bench:instructions: 96,200 → 94,900; 94,000 before slots existed).
 */
export class ConnectionSlots {
  private readonly connections = new WeakMap<Duplex, ConnectionSlot>();

  constructor(private readonly max = MAX_FETCHES_PER_CONNECTION) {}

  /** Takes a slot for `ctx`: undefined when it got one at once, else a promise resolved when it does. */
  acquire(ctx: RequestContext): Promise<void> | undefined {
    const socket = ctx.req.socket;
    const connection = this.connections.get(socket) ?? this.track(socket);
    ctx.fetchSlot = connection;
    if (connection.fetching < this.max) {
      connection.fetching += 1;
      if (connection.fetching === this.max) pause(socket, connection);
      return undefined;
    }
    return new Promise((resolve) => connection.waiting.set(ctx, resolve));
  }

  /** The response of `ctx` has closed: its slot goes to the next waiting request, or frees. */
  release(ctx: RequestContext): void {
    const connection = ctx.fetchSlot;
    if (connection === undefined) return; // answered at the gate: it never asked for one
    ctx.fetchSlot = undefined;
    if (connection.waiting.size > 0) {
      const waiting = connection.waiting.get(ctx);
      if (waiting !== undefined) {
        // Its client left before it got a slot: it goes on, and fails on its aborted signal.
        connection.waiting.delete(ctx);
        waiting();
        return;
      }
      for (const [next, resolve] of connection.waiting) {
        connection.waiting.delete(next);
        resolve();
        return;
      }
    }
    connection.fetching -= 1;
    if (connection.paused && connection.fetching < this.max) {
      connection.paused = false;
      const socket = ctx.req.socket;
      socket.off('resume', connection.repause);
      socket.resume();
    }
  }

  private track(socket: Duplex): ConnectionSlot {
    const connection: ConnectionSlot = {
      fetching: 0,
      waiting: new Map(),
      paused: false,
      repause: () => {
        if (connection.paused) socket.pause();
      },
    };
    this.connections.set(socket, connection);
    return connection;
  }
}

function pause(socket: Duplex, connection: ConnectionSlot): void {
  if (connection.paused) return;
  connection.paused = true;
  socket.on('resume', connection.repause);
  socket.pause();
}
