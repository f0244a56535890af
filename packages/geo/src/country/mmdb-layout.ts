import { Reader } from 'maxmind';

/** Where the parts of a MaxMind DB file lie, from its metadata, after sanity checks. */
export interface MmdbLayout {
  readonly databaseType: string;
  readonly buildDate: Date;
  readonly ipVersion: 4 | 6;
  readonly nodeCount: number;
  readonly recordSize: 24 | 28 | 32;
  /** First byte of the data section (after the search tree and its 16-byte separator). */
  readonly dataStart: number;
  /** First byte after the data section (where the metadata marker starts). */
  readonly dataEnd: number;
}

// MaxMind DB spec, "Database Metadata": the metadata follows the last occurrence of this marker.
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const SEPARATOR_BYTES = 16;

/**
 * Reads the metadata (decoded by the `maxmind` package) and checks that it describes this file:
 * format version 2, a known record size and IP version, and a search tree that fits before the
 * data section, followed by the 16 zero bytes the spec requires. Throws an `Error` naming the
 * first inconsistency; a wrong `node_count` (MaxMind's `Invalid-Node-Count` test file) fails here.
 */
export function readMmdbLayout(buffer: Buffer): MmdbLayout {
  const markerAt = buffer.lastIndexOf(METADATA_MARKER);
  if (markerAt === -1) throw new Error('no MaxMind DB metadata marker: not a .mmdb file');
  let metadata: Reader<never>['metadata'];
  try {
    metadata = new Reader<never>(buffer).metadata;
  } catch (error) {
    throw new Error(`cannot decode metadata: ${(error as Error).message}`);
  }
  const { binaryFormatMajorVersion, recordSize, ipVersion, nodeCount, databaseType, buildEpoch } = metadata;
  if (binaryFormatMajorVersion !== 2)
    throw new Error(`unsupported format version ${binaryFormatMajorVersion}`);
  if (recordSize !== 24 && recordSize !== 28 && recordSize !== 32) {
    throw new Error(`unsupported record size ${recordSize}`);
  }
  if (ipVersion !== 4 && ipVersion !== 6) throw new Error(`unsupported ip_version ${ipVersion}`);
  if (!Number.isSafeInteger(nodeCount) || nodeCount <= 0) throw new Error(`invalid node_count ${nodeCount}`);
  if (typeof databaseType !== 'string') throw new Error('metadata has no database_type');
  if (Number.isNaN(buildEpoch.getTime())) throw new Error('metadata has no valid build_epoch');
  const treeBytes = (nodeCount * recordSize) / 4;
  const dataStart = treeBytes + SEPARATOR_BYTES;
  if (dataStart > markerAt) {
    throw new Error(`node_count ${nodeCount} needs a ${treeBytes}-byte search tree, beyond the file's data`);
  }
  for (let index = treeBytes; index < dataStart; index++) {
    if (buffer[index] !== 0)
      throw new Error('data section separator is not 16 zero bytes (wrong node_count?)');
  }
  return {
    databaseType,
    buildDate: buildEpoch,
    ipVersion,
    nodeCount,
    recordSize,
    dataStart,
    dataEnd: markerAt,
  };
}
