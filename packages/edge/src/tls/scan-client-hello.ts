/** What the first bytes of a TLS connection say so far. */
export type ClientHelloScan =
  /** `bytesNeeded`: scanning again before that many bytes arrived cannot give another answer. */
  | { status: 'incomplete'; bytesNeeded: number }
  /** `serverName` is the SNI host_name as sent (not normalised), undefined when the client sent none. */
  | { status: 'complete'; serverName: string | undefined }
  | { status: 'invalid'; reason: string };

/** A ClientHello is a few hundred bytes (about 2 KiB with post-quantum key shares); more is an attack. */
export const maxClientHelloBytes = 64 * 1024;

const handshakeRecord = 22;
const clientHello = 1;
const serverNameExtension = 0;
const hostNameType = 0;
// RFC 8446 §5.1: a plaintext record carries at most 2^14 bytes.
const maxRecordBytes = 16_384;
// Real clients send the ClientHello in one record; many tiny records only make the edge re-read them.
const maxRecords = 16;

/**
 * Reads the server name (SNI, RFC 6066 §3) off the bytes a client sent first, without consuming them:
 * the caller picks the certificate, then hands every byte to OpenSSL. Handles a ClientHello split across
 * TCP segments and across TLS records (RFC 8446 §5.1 allows both).
 *
 * Hand-written because Node exposes no ClientHello parser and its `SNICallback` serves the wrong
 * certificate when key types are mixed (nodejs/node#54235; see tls-acceptor.ts). A misread name can only
 * pick the wrong certificate, never change a decision: the policy decides on the request's Host.
 * Pure and total: any input gives a result, never an exception.
 */
export function scanClientHello(data: Buffer): ClientHelloScan {
  if (data.length > 0 && data[0] !== handshakeRecord) return invalid('not a TLS handshake');
  const fragments: Buffer[] = [];
  let handshakeBytes = 0;
  let offset = 0;
  while (offset + 5 <= data.length) {
    if (fragments.length === maxRecords)
      return invalid(`a ClientHello split across over ${maxRecords} records`);
    if (data[offset] !== handshakeRecord)
      return invalid('a record other than handshake before the ClientHello');
    if (data[offset + 1] !== 3) return invalid('not a TLS record version');
    const length = data.readUInt16BE(offset + 3);
    if (length === 0 || length > maxRecordBytes) return invalid(`a handshake record of ${length} bytes`);
    if (offset + 5 + length > data.length) return { status: 'incomplete', bytesNeeded: offset + 5 + length };
    fragments.push(data.subarray(offset + 5, offset + 5 + length));
    handshakeBytes += length;
    offset += 5 + length;
    if (handshakeBytes < 4) continue;
    const handshake = Buffer.concat(fragments, handshakeBytes);
    if (handshake[0] !== clientHello) return invalid('the first handshake message is not a ClientHello');
    const messageLength = handshake.readUIntBE(1, 3);
    if (messageLength > maxClientHelloBytes) return invalid(`a ClientHello of ${messageLength} bytes`);
    if (handshakeBytes >= 4 + messageLength) return readServerName(handshake.subarray(4, 4 + messageLength));
  }
  if (offset > maxClientHelloBytes) return invalid('no complete ClientHello in 64 KiB');
  return { status: 'incomplete', bytesNeeded: offset + 5 };
}

// RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2, the same layout): version, random, session id, cipher suites,
// compression methods, then optional extensions.
function readServerName(body: Buffer): ClientHelloScan {
  const reader = new BoundedReader(body);
  reader.skip(2 + 32);
  reader.skip(reader.uint8());
  reader.skip(reader.uint16());
  reader.skip(reader.uint8());
  if (reader.failed) return invalid('a truncated ClientHello');
  if (reader.remaining === 0) return { status: 'complete', serverName: undefined };
  const extensions = reader.slice(reader.uint16());
  while (!extensions.failed && extensions.remaining > 0) {
    const type = extensions.uint16();
    const data = extensions.slice(extensions.uint16());
    if (type !== serverNameExtension) continue;
    const names = data.slice(data.uint16());
    while (!names.failed && names.remaining > 0) {
      const nameType = names.uint8();
      const name = names.slice(names.uint16());
      if (names.failed || data.failed) break;
      if (nameType === hostNameType)
        return { status: 'complete', serverName: name.rest().toString('latin1') };
    }
    if (names.failed || data.failed) return invalid('a malformed server_name extension');
    return { status: 'complete', serverName: undefined };
  }
  if (reader.failed || extensions.failed) return invalid('malformed ClientHello extensions');
  return { status: 'complete', serverName: undefined };
}

function invalid(reason: string): ClientHelloScan {
  return { status: 'invalid', reason };
}

/** Reads big-endian fields and never throws: a read past the end sets `failed` and yields zeros. */
class BoundedReader {
  private offset = 0;
  failed = false;

  constructor(private readonly bytes: Buffer) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  uint8(): number {
    return this.take(1)?.[0] ?? 0;
  }

  uint16(): number {
    return this.take(2)?.readUInt16BE(0) ?? 0;
  }

  skip(length: number): void {
    this.take(length);
  }

  slice(length: number): BoundedReader {
    const bytes = this.take(length);
    const reader = new BoundedReader(bytes ?? Buffer.alloc(0));
    reader.failed = bytes === undefined;
    return reader;
  }

  rest(): Buffer {
    return this.bytes.subarray(this.offset);
  }

  private take(length: number): Buffer | undefined {
    if (this.failed || length > this.remaining) {
      this.failed = true;
      return undefined;
    }
    const bytes = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }
}
