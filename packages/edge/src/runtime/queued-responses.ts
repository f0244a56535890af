import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

const queued = new WeakMap<Duplex, Set<ServerResponse>>();

/**
 * Closes with its connection a response still queued behind an earlier one on it (pipelining). node:http
 * emits 'close' on the response that holds the socket, and destroys the requests still unanswered, but a
 * response waiting in its queue never hears of the close: its origin request was never aborted and its
 * piped body stayed paused, holding an origin connection, after the client (or the send timeout) had closed
 * the connection. Destroying it and emitting 'close' runs what a closed response runs (the abort in
 * traffic-server.ts, `pipeBody`'s failure); node never assigns the dead socket to it, so never closes it
 * twice. One 'close' listener per connection that has queued responses, none for the others.
 */
export function closeWithConnection(res: ServerResponse, socket: Duplex): void {
  let responses = queued.get(socket);
  if (responses === undefined) {
    const open = new Set<ServerResponse>();
    responses = open;
    queued.set(socket, open);
    socket.once('close', () => {
      queued.delete(socket);
      for (const each of open) {
        if (each.socket !== null || each.writableFinished) continue;
        each.destroy();
        each.emit('close');
      }
      open.clear();
    });
  }
  const open = responses;
  open.add(res);
  res.once('close', () => open.delete(res));
}
