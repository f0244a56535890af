import type { Socket } from 'node:net';
import { scanClientHello } from './scan-client-hello.js';

/** `ok: true`: every byte read was put back, for OpenSSL to read again. `ok: false`: destroy the socket. */
export type ClientHelloResult =
  | { ok: true; serverName: string | undefined }
  | { ok: false; reason: 'timeout' | 'closed' | 'invalid'; detail?: string };

/**
 * Reads a new connection's ClientHello far enough to learn its server name (SNI), then unshifts the bytes
 * so the TLS handshake sees them all, in order. Reads in paused mode and rescans only once the record it
 * waits for can be complete, so a client trickling bytes cannot make it re-read 64 KiB per byte.
 * Never rejects and removes its listeners before resolving; the caller owns the socket afterwards.
 */
export function readClientHello(socket: Socket, timeoutMs: number): Promise<ClientHelloResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let bytesNeeded = 5;
    const finish = (result: ClientHelloResult) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.off('error', onClosed);
      if (result.ok && received > 0) socket.unshift(Buffer.concat(chunks, received));
      resolve(result);
    };
    const onClosed = () => finish({ ok: false, reason: 'closed' });
    const onReadable = () => {
      for (let chunk: Buffer | null = socket.read(); chunk !== null; chunk = socket.read()) {
        chunks.push(chunk);
        received += chunk.length;
        if (received < bytesNeeded) continue;
        const scan = scanClientHello(chunks.length === 1 ? chunk : Buffer.concat(chunks, received));
        if (scan.status === 'incomplete') {
          bytesNeeded = scan.bytesNeeded;
          continue;
        }
        finish(
          scan.status === 'complete'
            ? { ok: true, serverName: scan.serverName }
            : { ok: false, reason: 'invalid', detail: scan.reason },
        );
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
