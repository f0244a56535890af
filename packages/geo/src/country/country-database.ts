import type { Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { GeoError } from '../errors.js';
import type { ParsedIp } from '../ip/parse-ip.js';
import { type CountryLookup, chooseRecordCountry, UNKNOWN_COUNTRY } from './country-lookup.js';
import { MmdbDataSection } from './mmdb-data.js';
import { type MmdbLayout, readMmdbLayout } from './mmdb-layout.js';

/** Which database a locator answers from. */
export interface GeoDatabaseInfo {
  /** The file as configured. */
  path: string;
  /** `database_type` from the metadata, e.g. `GeoLite2-Country`, `GeoIP2-City`, `country ipvAll`. */
  databaseType: string;
  /** `build_epoch` from the metadata. */
  buildDate: Date;
}

// Converting the tree yields to the event loop this often, so a reload never stalls requests long.
const NODES_PER_SLICE = 1 << 16;

/**
 * A loaded, fully verified country database: the search tree as a flat array whose leaves index
 * precomputed, frozen answers. Lookups walk at most 32 or 128 array entries, allocate nothing and
 * cannot throw. Immutable: hot reload builds a new one and swaps the reference.
 */
export class CountryDatabase {
  constructor(
    readonly info: GeoDatabaseInfo,
    /** Identity of the file this was read from (device, inode, size, mtime), to skip no-op reloads. */
    readonly fileIdentity: string,
    private readonly tree: Uint32Array,
    private readonly nodeCount: number,
    private readonly ipv4Start: number,
    private readonly answers: readonly CountryLookup[],
    private readonly ipVersion: 4 | 6,
  ) {}

  /** The database's answer for a parsed address; `UNKNOWN_COUNTRY` if it has none. */
  lookup(address: ParsedIp): CountryLookup {
    const tree = this.tree;
    const nodeCount = this.nodeCount;
    let node: number;
    if (address.version === 4) {
      node = this.ipv4Start;
      const v4 = address.v4;
      for (let bit = 31; bit >= 0 && node < nodeCount; bit--)
        node = tree[node * 2 + ((v4 >>> bit) & 1)] as number;
    } else {
      if (this.ipVersion === 4) return UNKNOWN_COUNTRY;
      node = 0;
      const groups = address.groups;
      for (let depth = 0; depth < 128 && node < nodeCount; depth++) {
        const bit = ((groups[depth >>> 4] as number) >>> (15 - (depth & 15))) & 1;
        node = tree[node * 2 + bit] as number;
      }
    }
    return node >= nodeCount ? (this.answers[node - nodeCount] as CountryLookup) : UNKNOWN_COUNTRY;
  }
}

/** What tells one file at a path from its replacement: device, inode, size, mtime. */
export function fileIdentityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

/**
 * Reads and verifies the MaxMind DB file at `path` (see {@link readMmdbLayout} and
 * `MmdbDataSection`): metadata sanity, every search-tree record in bounds, every data record the
 * tree points to well-formed. Runs in slices, yielding to the event loop, so a reload under load
 * does not stall requests. Throws `GeoError` `GEO_DB_INVALID` naming the file and the fault.
 */
export async function loadCountryDatabase(path: string): Promise<CountryDatabase> {
  try {
    const handle = await open(path, 'r');
    let buffer: Buffer;
    let fileIdentity: string;
    try {
      const stat = await handle.stat();
      fileIdentity = fileIdentityOf(stat);
      buffer = await handle.readFile();
    } finally {
      await handle.close();
    }
    if (buffer[0] === 0x1f && buffer[1] === 0x8b)
      throw new Error('the file is gzip-compressed: decompress it first');
    const layout = readMmdbLayout(buffer);
    const { tree, answers } = await convertSearchTree(buffer, layout);
    const ipv4Start = findIpv4Start(tree, layout);
    const info = { path, databaseType: layout.databaseType, buildDate: layout.buildDate };
    return new CountryDatabase(
      info,
      fileIdentity,
      tree,
      layout.nodeCount,
      ipv4Start,
      answers,
      layout.ipVersion,
    );
  } catch (error) {
    throw new GeoError('GEO_DB_INVALID', `cannot use geo database ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Copies every node of the search tree into a flat `Uint32Array` (node n: children at 2n, 2n+1),
 * checking that each record is a node, the "no data" marker, or a pointer into the data section.
 * Each distinct data record is verified once and replaced by `nodeCount + index` into `answers`
 * (index 0 is unknown, which is also where the "no data" marker `nodeCount` lands).
 */
async function convertSearchTree(buffer: Buffer, layout: MmdbLayout) {
  const { nodeCount, dataStart, dataEnd } = layout;
  const dataSize = dataEnd - dataStart;
  const data = new MmdbDataSection(buffer, dataStart, dataEnd);
  const readRecord = recordReader(buffer, layout.recordSize);
  const tree = new Uint32Array(nodeCount * 2);
  const answers: CountryLookup[] = [UNKNOWN_COUNTRY];
  const answerIndexByRecord = new Map<number, number>();
  for (let slot = 0; slot < nodeCount * 2; slot++) {
    if (slot % NODES_PER_SLICE === 0 && slot > 0) await yieldToEventLoop();
    const value = readRecord(slot);
    if (value <= nodeCount) {
      tree[slot] = value;
      continue;
    }
    // Spec, "Search Tree": a record above node_count points into the data section, 16 bytes in.
    const offset = value - nodeCount - 16;
    if (offset < 0 || offset >= dataSize) {
      throw new Error(`search tree node ${slot >>> 1} points outside the data section`);
    }
    let index = answerIndexByRecord.get(offset);
    if (index === undefined) {
      data.verifyRecord(offset);
      index = answers.push(chooseRecordCountry(data.readCountryFields(offset))) - 1;
      answerIndexByRecord.set(offset, index);
    }
    tree[slot] = nodeCount + index;
  }
  return { tree, answers };
}

/** Reads record `slot` (node `slot >> 1`, left if even) for 24-, 28- or 32-bit records (spec, "Search Tree"). */
function recordReader(buffer: Buffer, recordSize: 24 | 28 | 32): (slot: number) => number {
  const uint24 = (at: number) =>
    (buffer[at] as number) * 65536 + (buffer[at + 1] as number) * 256 + (buffer[at + 2] as number);
  if (recordSize === 24) return (slot) => uint24(slot * 3);
  if (recordSize === 32) return (slot) => buffer.readUInt32BE(slot * 4);
  return (slot) => {
    // 28-bit records share their middle byte: its high nibble tops the left record, low nibble the right.
    const at = (slot >>> 1) * 7;
    const middle = buffer[at + 3] as number;
    if ((slot & 1) === 0) return (middle >>> 4) * 0x1000000 + uint24(at);
    return (middle & 0x0f) * 0x1000000 + uint24(at + 4);
  };
}

/** IPv4 addresses live at `::a.b.c.d` in an IPv6 tree: the node reached after 96 zero bits. */
function findIpv4Start(tree: Uint32Array, layout: MmdbLayout): number {
  if (layout.ipVersion === 4) return 0;
  let node = 0;
  for (let depth = 0; depth < 96 && node < layout.nodeCount; depth++) node = tree[node * 2] as number;
  return node;
}
