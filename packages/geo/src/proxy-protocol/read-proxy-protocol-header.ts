import type { Socket } from 'node:net';
import { parseProxyHeader, startsWithProxySignature } from './parse-proxy-header.js';

/** Why no usable PROXY header was read; the caller should destroy the socket. */
export type ProxyHeaderFailure =
  | 'timeout'
  | 'closed'
  | 'missing-header'
  | 'invalid-header'
  | 'untrusted-peer-sent-proxy-header';

/**
 * `ok: true`: hand the socket to `node:http` (`server.emit('connection', socket)`); bytes after
 * the header have been put back into it. `sourceAddress` is the client (normalised), or null when
 * the connection's own peer is the client (LOCAL / UNKNOWN header, or an untrusted peer speaking
 * plain HTTP). `ok: false`: destroy the socket; `detail` is for a debug log.
 */
export type ProxyHeaderResult =
  | { ok: true; sourceAddress: string | null }
  | { ok: false; reason: ProxyHeaderFailure; detail?: string };

/** Options of {@link readProxyProtocolHeader}. */
export interface ReadProxyHeaderOptions {
  /** Whether the socket's peer is inside `trustedProxies` (see `createTrustedPeerCheck`). */
  trustedPeer: boolean;
  /** How long to wait for enough bytes to decide. Default: 5000 ms. */
  timeoutMs?: number;
}

/**
 * Reads a PROXY protocol v1/v2 header off a new connection, before `node:http` sees it.
 * - Trusted peer: the header is required (the spec forbids guessing); with a valid one, resolves
 *   with its source address. No header, a bad one or a timeout: `ok: false`.
 * - Untrusted peer: a header is never honoured. If the connection starts with a PROXY signature,
 *   `ok: false` (`untrusted-peer-sent-proxy-header`: someone is trying to pick their address, so
 *   refuse the connection); otherwise `ok: true, sourceAddress: null` and the bytes are HTTP.
 * Reads in paused mode and unshifts what follows the header, so the HTTP parser gets every byte
 * in order. Never throws and never rejects; removes its listeners before resolving.
 */
export function readProxyProtocolHeader(
  socket: Socket,
  options: ReadProxyHeaderOptions,
): Promise<ProxyHeaderResult> {
  const { trustedPeer, timeoutMs = 5000 } = options;
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let receivedLength = 0;
    let bytesNeeded = 0;
    const finish = (result: ProxyHeaderResult, rest?: Buffer) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.off('error', onClosed);
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      resolve(result);
    };
    const onClosed = () => finish({ ok: false, reason: 'closed' });
    const onReadable = () => {
      for (let chunk: Buffer | null = socket.read(); chunk !== null; chunk = socket.read()) {
        chunks.push(chunk);
        receivedLength += chunk.length;
        // A v2 header announces its length: wait for all of it instead of re-joining every chunk.
        if (receivedLength < bytesNeeded) continue;
        const received = chunks.length === 1 ? chunk : Buffer.concat(chunks);
        chunks = [received];
        const decision = trustedPeer ? decideTrusted(received) : decideUntrusted(received);
        if (decision === undefined) continue;
        if ('bytesNeeded' in decision) {
          bytesNeeded = decision.bytesNeeded;
          continue;
        }
        finish(decision.result, decision.rest);
        return;
      }
    };
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout' }), timeoutMs);
    timer.unref();
    if (socket.destroyed || socket.readableEnded) {
      finish({ ok: false, reason: 'closed' });
      return;
    }
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    socket.on('error', onClosed);
    socket.on('readable', onReadable);
  });
}

type Decision = { result: ProxyHeaderResult; rest?: Buffer } | { bytesNeeded: number } | undefined;

function decideTrusted(received: Buffer): Decision {
  const parsed = parseProxyHeader(received);
  if (parsed.status === 'incomplete') {
    return parsed.bytesNeeded === undefined ? undefined : { bytesNeeded: parsed.bytesNeeded };
  }
  if (parsed.status === 'invalid') {
    const reason = startsWithProxySignature(received) === 'no' ? 'missing-header' : 'invalid-header';
    return { result: { ok: false, reason, detail: parsed.detail } };
  }
  return {
    result: { ok: true, sourceAddress: parsed.sourceAddress },
    rest: received.subarray(parsed.headerLength),
  };
}

function decideUntrusted(received: Buffer): Decision {
  const signature = startsWithProxySignature(received);
  if (signature === 'maybe') return undefined;
  if (signature === 'yes') return { result: { ok: false, reason: 'untrusted-peer-sent-proxy-header' } };
  return { result: { ok: true, sourceAddress: null }, rest: received };
}
