import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The client send timeout (nginx's `send_timeout`): a connection that holds bytes for its client and sees
 * none of them taken for `ms` is destroyed. Without it a client that stops reading kept its response, and
 * the origin connection feeding it, for good: a paused body is not timed by undici's bodyTimeout and
 * node:http has no send timeout.
 *
 * It watches the socket, not a response: what is stuck is the connection (a piped body paused by
 * backpressure, a Buffer reply handed whole to the socket with `res.end`, a pipelined response flushed when
 * its turn comes all hold bytes in the same socket), and destroying it ends every response on it, each
 * aborting its origin request. A timer exists only while a socket is blocked: it is armed where the edge
 * sees its write path blocked (`watch`), never per request, and it stops itself once the socket has
 * nothing pending. Not socket.setTimeout: node:http uses it for keep-alive, and it counts reads as activity,
 * so a client could keep a stuck connection alive by sending bytes.
 */
export class SendTimeout {
  private readonly watched = new WeakSet<Socket>();
  private readonly timedOut = new WeakSet<object>();

  constructor(
    /** Read at each arm: a reload changes it for sockets that block from then on. */
    public ms: number,
    private readonly onTimeout: (socket: Socket, pendingBytes: number) => void,
  ) {}

  /** Whether this socket was destroyed by the send timeout (how the requests on it are recorded). */
  cut(socket: object | null): boolean {
    return socket !== null && this.timedOut.has(socket);
  }

  /**
   * The response's write path may be blocked (its piped body was paused, or `res.end` left bytes in the
   * socket). A response still queued behind an earlier one on its connection has no socket yet: it is
   * watched once node:http hands it one and flushes what it holds.
   */
  watch(res: ServerResponse): void {
    const socket = res.socket;
    if (socket !== null) {
      this.watchSocket(socket);
      return;
    }
    if (res.destroyed) return;
    // assignSocket emits 'socket' and then flushes the held output synchronously: look after that.
    res.once('socket', (assigned: Socket) => queueMicrotask(() => this.watchSocket(assigned)));
  }

  /** After `res.end(buffer)`: watched only when the socket kept bytes the kernel did not take at once. */
  afterEnd(res: ServerResponse): void {
    const socket = res.socket;
    if (socket === null ? !res.writableFinished : pendingBytes(socket) > 0) this.watch(res);
  }

  private watchSocket(socket: Socket): void {
    if (socket.destroyed || this.watched.has(socket)) return;
    if (pendingBytes(socket) === 0) return;
    let last = sentBytes(socket);
    this.watched.add(socket);
    const stop = () => {
      clearTimeout(timer);
      this.watched.delete(socket);
      socket.off('close', stop);
    };
    // Progress is the kernel taking any byte, part of a write included, as nginx counts each successful
    // write; not a change in the bytes pending, which can read the same after the client took a chunk and
    // the edge wrote another. So a slow client that keeps reading is never cut, and one that stops is cut
    // between `ms` and twice it after it last took a byte.
    const timer = setTimeout(() => {
      const pending = pendingBytes(socket);
      if (socket.destroyed || pending === 0) return stop();
      const sent = sentBytes(socket);
      if (sent !== last) {
        last = sent;
        timer.refresh();
        return;
      }
      stop();
      this.timedOut.add(socket);
      socket.destroy();
      this.onTimeout(socket, pending);
    }, this.ms);
    timer.unref();
    socket.once('close', stop);
  }
}

type Handle = { writeQueueSize?: number; bytesWritten?: number } | null | undefined;
const handleOf = (socket: Socket) => (socket as unknown as { _handle?: Handle })._handle;

/**
 * Bytes the kernel has taken from the socket, growing with every byte it takes: what the handle was given
 * (`bytesWritten`) less what is still in its write queue. A stream without a handle counts what its
 * completed writes held.
 */
function sentBytes(socket: Socket): number {
  const handle = handleOf(socket);
  if (typeof handle?.bytesWritten === 'number' && typeof handle.writeQueueSize === 'number')
    return handle.bytesWritten - handle.writeQueueSize;
  return (socket.bytesWritten ?? 0) - socket.writableLength;
}

/**
 * Bytes the socket holds that the client has not taken: node's writable buffer (the write in flight
 * included) plus the handle's write queue (libuv's for TCP, the TLS layer's for TLS), which shrinks as the
 * kernel takes part of a write. `writeQueueSize` is what node's own socket timeout reads for the same
 * purpose (net.js `_onTimeout`); a stream without a handle counts its buffer only.
 */
export function pendingBytes(socket: Socket): number {
  return socket.writableLength + (handleOf(socket)?.writeQueueSize ?? 0);
}
