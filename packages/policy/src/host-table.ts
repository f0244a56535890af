import { type Ref, type Refs, withRef } from './refs.js';

// Hand-written instead of a `Map<string, Refs>`, for decide()'s speed (measured: see the README):
// - decide() looks up every suffix of a host; with a Map each needs a new substring (`host.slice`),
//   hashed and compared by V8. Here ONE right-to-left pass over the host hashes every suffix, and a
//   probe compares a suffix in place: misses allocate nothing and touch no string.
// - a miss reads one 8-byte slot; a hit also reads its entry (name bytes and rule list id, contiguous),
//   where a Map touches a bucket, an entry, a key string and a value: names are kept as bytes in one
//   buffer (normalised names are ASCII, at most 253 octets) and rule lists by small ids.
// Only the index needs this; everything else uses Map.

/**
 * The hash of `text.slice(start)`, computed right to left so that one pass over a host yields the hash
 * of every suffix (see suffix-scan.ts): h = h * 31 + code, from the last character back to `start`.
 */
export function hashSuffix(text: string, start = 0): number {
  let hash = 0;
  for (let index = text.length - 1; index >= start; index--)
    hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0;
  return hash;
}

/** Spreads a hash over the table (murmur3's finaliser): nearby names land in unrelated slots. */
function slotOf(hash: number, mask: number): number {
  let mixed = hash ^ (hash >>> 16);
  mixed = Math.imul(mixed, 0x85ebca6b);
  mixed ^= mixed >>> 13;
  mixed = Math.imul(mixed, 0xc2b2ae35);
  return (mixed ^ (mixed >>> 16)) & mask;
}

// A slot is two int32s: the offset of its entry in `bytes` + 1 (0 = empty) and the full hash of the name
// (to skip most comparisons): 8 bytes, so a miss reads one small, dense array. An entry in `bytes` is a
// header (the name's length, then its rule list id in 3 bytes) followed by the name's characters.
const HEADER = 4;
const MAX_LIST_ID = 0xffffff;

/**
 * An insert-only open-addressing hash table from (ASCII) names to rule lists: linear probing, load ≤ 1/2.
 * Entries are never removed: a name that loses all its rules keeps an empty list.
 */
export class HostTable {
  // A one-bit-per-hash filter, 8+ bits per name (about 12% false positives): most misses stop here,
  // in an array small enough to stay in the CPU cache, without reading `slots` at all.
  private filter: Int32Array;
  private filterShift: number;
  private slots: Int32Array;
  private bytes: Uint8Array;
  private byteLength = 0;
  private lists: Refs[] = [];
  private listIds = new Map<Refs, number>();
  private mask: number;
  /** The number of names. */
  size = 0;
  /** Bit n set when some name has n labels (bit 31: 31 or more), so decide() skips impossible suffixes. */
  labelCounts = 0;

  constructor(expectedNames = 0, expectedBytes = expectedNames * 24) {
    const capacity = 2 ** Math.max(4, Math.ceil(Math.log2(Math.max(1, expectedNames) * 2)));
    this.slots = new Int32Array(capacity * 2);
    this.bytes = new Uint8Array(Math.max(64, expectedBytes));
    this.mask = capacity - 1;
    // capacity >= 2 names, so 4 filter bits per slot are 8+ bits per name.
    this.filter = new Int32Array(capacity / 8);
    this.filterShift = 32 - Math.log2(capacity * 4);
  }

  /** The rules of `host.slice(start, end)`, whose {@link hashSuffix} is `hash`; no substring is made. */
  lookup(host: string, start: number, end: number, hash: number): Refs | undefined {
    const bit = Math.imul(hash, 0x9e3779b1) >>> this.filterShift;
    if (((this.filter[bit >>> 5] as number) & (1 << (bit & 31))) === 0) return undefined;
    const length = end - start;
    const { slots, mask, bytes } = this;
    probing: for (let slot = slotOf(hash, mask); ; slot = (slot + 1) & mask) {
      const entry = (slots[2 * slot] as number) - 1;
      if (entry === -1) return undefined;
      if (slots[2 * slot + 1] !== hash || bytes[entry] !== length) continue;
      const name = entry + HEADER;
      for (let index = 0; index < length; index++) {
        if (bytes[name + index] !== host.charCodeAt(start + index)) continue probing;
      }
      return this.lists[this.listIdAt(entry)];
    }
  }

  /** The rules of `name`. */
  get(name: string): Refs | undefined {
    return this.lookup(name, 0, name.length, hashSuffix(name));
  }

  /** Sets the rules of `name` (a normalised, hence ASCII, name of at most 253 characters). */
  set(name: string, refs: Refs): void {
    this.write(name, () => refs);
  }

  /** Adds `ref` to the rules of `name` in one probe (see {@link withRef}); `false` if it was there. */
  add(name: string, ref: Ref, single: Refs): boolean {
    return this.write(name, (current) => withRef(current, ref, single));
  }

  /** Replaces the rules of `name` by `change(current)`, unless it returns `undefined`; one probe. */
  private write(name: string, change: (current: Refs | undefined) => Refs | undefined): boolean {
    const hash = hashSuffix(name);
    for (let slot = slotOf(hash, this.mask); ; slot = (slot + 1) & this.mask) {
      const entry = (this.slots[2 * slot] as number) - 1;
      if (entry !== -1 && !this.holds(entry, name, hash, slot)) continue;
      const refs = change(entry === -1 ? undefined : this.lists[this.listIdAt(entry)]);
      if (refs === undefined) return false;
      if (entry !== -1) {
        this.setListId(entry, this.listId(refs));
        return true;
      }
      this.slots[2 * slot] = this.appendEntry(name, this.listId(refs)) + 1;
      this.slots[2 * slot + 1] = hash;
      this.mark(hash);
      this.labelCounts |= labelCountBit(name);
      if (++this.size * 2 > this.mask + 1) this.grow();
      return true;
    }
  }

  /**
   * Touches every memory page of the (fresh) arrays, a megabyte per step: the operating system maps a
   * page on first write, which costs ~60 ms for a million-name table on our machine. A background
   * build spreads that over event-loop turns instead of paying it in its first slice.
   */
  *prefault(): Generator<void, void> {
    const PAGE = 4096;
    for (const array of [this.slots, this.filter, this.bytes]) {
      const perPage = PAGE / array.BYTES_PER_ELEMENT;
      for (let index = 0; index < array.length; index += perPage) {
        array[index] = array[index] as number;
        if (index % (256 * perPage) === 0) yield;
      }
    }
  }

  /** An independent copy: O(size), for copy-on-write overlays (which stay small). */
  clone(): HostTable {
    const copy = new HostTable();
    copy.slots = this.slots.slice();
    copy.filter = this.filter.slice();
    copy.filterShift = this.filterShift;
    copy.bytes = this.bytes.slice(0, Math.max(64, this.byteLength * 2));
    copy.byteLength = this.byteLength;
    copy.lists = this.lists.slice();
    copy.listIds = new Map(this.listIds);
    copy.mask = this.mask;
    copy.size = this.size;
    copy.labelCounts = this.labelCounts;
    return copy;
  }

  private mark(hash: number): void {
    const bit = Math.imul(hash, 0x9e3779b1) >>> this.filterShift;
    this.filter[bit >>> 5] = (this.filter[bit >>> 5] as number) | (1 << (bit & 31));
  }

  private holds(entry: number, name: string, hash: number, slot: number): boolean {
    if (this.slots[2 * slot + 1] !== hash || this.bytes[entry] !== name.length) return false;
    for (let index = 0; index < name.length; index++) {
      if (this.bytes[entry + HEADER + index] !== name.charCodeAt(index)) return false;
    }
    return true;
  }

  private listIdAt(entry: number): number {
    const { bytes } = this;
    return (
      (bytes[entry + 1] as number) |
      ((bytes[entry + 2] as number) << 8) |
      ((bytes[entry + 3] as number) << 16)
    );
  }

  private setListId(entry: number, id: number): void {
    this.bytes[entry + 1] = id & 0xff;
    this.bytes[entry + 2] = (id >>> 8) & 0xff;
    this.bytes[entry + 3] = id >>> 16;
  }

  /** Rule lists are few (most names share their order's one-rule list), so each gets a small id. */
  private listId(refs: Refs): number {
    let id = this.listIds.get(refs);
    if (id === undefined) {
      id = this.lists.push(refs) - 1;
      if (id > MAX_LIST_ID) throw new RangeError('HostTable: more than 16,777,215 distinct rule lists');
      this.listIds.set(refs, id);
    }
    return id;
  }

  private appendEntry(name: string, listId: number): number {
    const needed = this.byteLength + HEADER + name.length;
    if (needed > this.bytes.length) {
      const bigger = new Uint8Array(Math.max(this.bytes.length * 2, needed));
      bigger.set(this.bytes.subarray(0, this.byteLength));
      this.bytes = bigger;
    }
    const entry = this.byteLength;
    this.bytes[entry] = name.length;
    this.setListId(entry, listId);
    for (let index = 0; index < name.length; index++)
      this.bytes[entry + HEADER + index] = name.charCodeAt(index);
    this.byteLength = needed;
    return entry;
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
    this.filter = new Int32Array(capacity / 8);
    this.filterShift = 32 - Math.log2(capacity * 4);
    for (let at = 0; at < old.length; at += 2) {
      if (old[at] === 0) continue;
      this.mark(old[at + 1] as number);
      let slot = slotOf(old[at + 1] as number, this.mask);
      while (this.slots[2 * slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[2 * slot] = old[at] as number;
      this.slots[2 * slot + 1] = old[at + 1] as number;
    }
  }
}

/** The {@link HostTable.labelCounts} bit of a name. */
export function labelCountBit(name: string): number {
  let labels = 1;
  for (let index = name.indexOf('.'); index !== -1; index = name.indexOf('.', index + 1)) labels++;
  return 1 << Math.min(labels, 31);
}
