import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type Cidr, parseCidr } from './cidr.js';
import { ParsedIp, parseIpInto } from './parse-ip.js';
import { PrefixTrie } from './prefix-trie.js';

const cidr = (text: string) => parseCidr(text) as Cidr;
const address = (text: string) => {
  const parsed = new ParsedIp();
  parseIpInto(text, parsed);
  return parsed;
};

/** The naive reference: scan every network, keep the longest that contains the address. */
function linearMatch(networks: Array<[Cidr, string]>, parsed: ParsedIp): string | undefined {
  let best: [Cidr, string] | undefined;
  for (const entry of networks) {
    const [network] = entry;
    if (network.version !== parsed.version) continue;
    const bits = network.version === 4 ? 32 : 128;
    let inside = true;
    for (let depth = 0; depth < network.prefixLength && inside; depth++) {
      const bitOf = (value: { v4: number; groups: Uint16Array }) =>
        bits === 32
          ? (value.v4 >>> (31 - depth)) & 1
          : ((value.groups[depth >> 4] as number) >> (15 - (depth & 15))) & 1;
      inside = bitOf(network) === bitOf(parsed);
    }
    if (inside && (best === undefined || network.prefixLength > best[0].prefixLength)) best = entry;
  }
  return best?.[1];
}

describe('PrefixTrie', () => {
  test('answers with the most specific network', () => {
    const trie = new PrefixTrie<string>();
    trie.insert(cidr('10.0.0.0/8'), 'FR');
    trie.insert(cidr('10.1.0.0/16'), 'DE');
    trie.insert(cidr('2001:db8::/32'), 'NL');
    expect(trie.match(address('10.1.2.3'))).toBe('DE');
    expect(trie.match(address('10.2.0.1'))).toBe('FR');
    expect(trie.match(address('::ffff:10.1.0.9'))).toBe('DE');
    expect(trie.match(address('2001:db8:1::5'))).toBe('NL');
    expect(trie.match(address('11.0.0.1'))).toBeUndefined();
    expect(trie.match(address('2001:db9::1'))).toBeUndefined();
  });

  test('a /0 matches every address of its version only', () => {
    const trie = new PrefixTrie<string>();
    trie.insert(cidr('0.0.0.0/0'), 'ANY4');
    expect(trie.match(address('203.0.113.1'))).toBe('ANY4');
    expect(trie.match(address('2001:db8::1'))).toBeUndefined();
  });

  test('agrees with a linear scan on random networks and addresses', () => {
    const v4Network = fc
      .tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }))
      .map(([ip, length]) => `${ip}/${length}`);
    const v6Network = fc
      .tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }))
      .map(([ip, length]) => `${ip}/${length}`);
    const masked = (text: string) => {
      const parsed = parseCidr(text);
      if (typeof parsed !== 'string') return parsed;
      const suggestion = /did you mean (.*)\?/.exec(parsed)?.[1];
      return parseCidr(suggestion ?? '') as Cidr;
    };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(v4Network, v6Network), fc.constantFrom('A', 'B', 'C')), { maxLength: 20 }),
        fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 20 }),
        (entries, addresses) => {
          const trie = new PrefixTrie<string>();
          const networks = new Map<string, [Cidr, string]>();
          for (const [text, value] of entries) {
            const network = masked(text);
            if (network.version === 4 && text.includes(':')) continue;
            trie.insert(network, value);
            networks.set(network.text, [network, value]);
          }
          for (const text of addresses) {
            const parsed = address(text);
            expect(trie.match(parsed)).toBe(linearMatch([...networks.values()], parsed));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
