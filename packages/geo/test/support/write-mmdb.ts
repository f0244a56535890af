/**
 * A tiny MaxMind DB writer for tests: IPv4 trees with 24-bit records, enough to build records no
 * published test file contains (only `registered_country`, odd codes) and to corrupt files on
 * purpose. `maxmind` reads what it writes (checked in the tests), so it follows the spec.
 */

/** A data-section value. `{ double }` forces a double, `{ raw }` emits bytes as they are (corruption). */
export type MmdbValue =
  | string
  | number
  | boolean
  | MmdbValue[]
  | { double: number }
  | { raw: Buffer }
  | { [key: string]: MmdbValue };

const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');

function control(type: number, size: number): Buffer {
  const extended = type > 7;
  const head = (extended ? 0 : type << 5) | (size < 29 ? size : size < 285 ? 29 : size < 65821 ? 30 : 31);
  const bytes = [head];
  if (extended) bytes.push(type - 7);
  if (size >= 65821)
    bytes.push(((size - 65821) >> 16) & 255, ((size - 65821) >> 8) & 255, (size - 65821) & 255);
  else if (size >= 285) bytes.push(((size - 285) >> 8) & 255, (size - 285) & 255);
  else if (size >= 29) bytes.push(size - 29);
  return Buffer.from(bytes);
}

function unsigned(type: number, value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.concat([control(type, bytes.length), Buffer.from(bytes)]);
}

/** Encodes one value of the data section (MaxMind DB spec, "Output Data Section"). */
export function encodeMmdbValue(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === 'boolean') return control(14, value ? 1 : 0);
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) return unsigned(6, value);
    return encodeMmdbValue({ double: value });
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encodeMmdbValue)]);
  if ('raw' in value && Buffer.isBuffer(value.raw)) return value.raw;
  if ('double' in value && typeof value.double === 'number') {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value.double);
    return Buffer.concat([control(3, 8), bytes]);
  }
  const entries = Object.entries(value as Record<string, MmdbValue>);
  return Buffer.concat([
    control(7, entries.length),
    ...entries.flatMap(([key, item]) => [encodeMmdbValue(key), encodeMmdbValue(item)]),
  ]);
}

type TrieNode = { children: [TrieNode | undefined, TrieNode | undefined]; record?: number; index?: number };

/**
 * Writes an IPv4-only database mapping each `a.b.c.d/len` to a record (networks must not nest).
 * `nodeCountDelta` writes a wrong `node_count` into the metadata, to corrupt the file.
 */
export function writeMmdb(options: {
  databaseType?: string;
  records: Array<[cidr: string, record: MmdbValue]>;
  buildEpoch?: number;
  nodeCountDelta?: number;
}): Buffer {
  const data: Buffer[] = [];
  let dataLength = 0;
  const root: TrieNode = { children: [undefined, undefined] };
  for (const [cidr, record] of options.records) {
    const [address = '', lengthText = '32'] = cidr.split('/');
    const value = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
    let node = root;
    for (let depth = 0; depth < Number(lengthText); depth++) {
      const bit = Math.floor(value / 2 ** (31 - depth)) % 2;
      node.children[bit] ??= { children: [undefined, undefined] };
      node = node.children[bit] as TrieNode;
    }
    const encoded = encodeMmdbValue(record);
    node.record = dataLength;
    data.push(encoded);
    dataLength += encoded.length;
  }
  // Number the inner nodes breadth-first; leaves (records) and gaps are not nodes.
  const inner: TrieNode[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const node = queue.shift() as TrieNode;
    if (node.record !== undefined) continue;
    node.index = inner.push(node) - 1;
    for (const child of node.children) if (child !== undefined) queue.push(child);
  }
  const nodeCount = inner.length;
  const tree = Buffer.alloc(nodeCount * 6);
  inner.forEach((node, index) => {
    node.children.forEach((child, side) => {
      let value = nodeCount; // "no data"
      if (child?.record !== undefined) value = nodeCount + 16 + child.record;
      else if (child !== undefined) value = child.index as number;
      tree.writeUIntBE(value, index * 6 + side * 3, 3);
    });
  });
  const metadata = encodeMmdbValue({
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: options.buildEpoch ?? 1_700_000_000,
    database_type: options.databaseType ?? 'Test-Country',
    description: { en: 'edge451 test database' },
    ip_version: 4,
    languages: ['en'],
    node_count: nodeCount + (options.nodeCountDelta ?? 0),
    record_size: 24,
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, METADATA_MARKER, metadata]);
}
