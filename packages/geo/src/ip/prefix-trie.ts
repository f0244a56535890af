import type { Cidr } from './cidr.js';
import type { ParsedIp } from './parse-ip.js';

/**
 * Longest-prefix match from networks to values: a binary trie per IP version, one bit per level.
 * Hand-written because `net.BlockList` only answers yes/no, while overrides need the value of the
 * most specific network, and because it reuses the address the caller already parsed.
 */
export class PrefixTrie<T> {
  private readonly roots: Record<4 | 6, number>;
  private readonly zero: number[] = [];
  private readonly one: number[] = [];
  private readonly values: (T | undefined)[] = [];

  /** Number of networks inserted. */
  size = 0;

  constructor() {
    this.roots = { 4: this.newNode(), 6: this.newNode() };
  }

  /** Stores `value` for `cidr`; returns the value it replaces (undefined if the network is new). */
  insert(cidr: Cidr, value: T): T | undefined {
    let node = this.roots[cidr.version];
    for (let depth = 0; depth < cidr.prefixLength; depth++) {
      const branch = bitOf(cidr, depth) === 0 ? this.zero : this.one;
      let next = branch[node] as number;
      if (next === -1) {
        next = this.newNode();
        branch[node] = next;
      }
      node = next;
    }
    const previous = this.values[node];
    if (previous === undefined) this.size++;
    this.values[node] = value;
    return previous;
  }

  /** The value of the most specific network containing `address`, or undefined. */
  match(address: ParsedIp): T | undefined {
    if (address.version === 0) return undefined;
    let node = this.roots[address.version];
    let best = this.values[node];
    const bits = address.version === 4 ? 32 : 128;
    for (let depth = 0; depth < bits; depth++) {
      node = (bitOf(address, depth) === 0 ? this.zero[node] : this.one[node]) as number;
      if (node === -1) break;
      const value = this.values[node];
      if (value !== undefined) best = value;
    }
    return best;
  }

  private newNode(): number {
    this.zero.push(-1);
    this.one.push(-1);
    this.values.push(undefined);
    return this.zero.length - 1;
  }
}

function bitOf(address: { version: number; v4: number; groups: Uint16Array }, depth: number): number {
  if (address.version === 4) return (address.v4 >>> (31 - depth)) & 1;
  return ((address.groups[depth >>> 4] as number) >>> (15 - (depth & 15))) & 1;
}
