import { describe, expect, it } from 'vitest';
import { HostTable, hashSuffix, labelCountBit } from './host-table.js';
import type { Refs } from './refs.js';

const refs = (key: number): Refs => [{ key, kind: 0 }];

describe('HostTable', () => {
  it('finds a name by any suffix position of a longer host without making a substring', () => {
    const table = new HostTable();
    const value = refs(1);
    table.set('example.com', value);
    const host = 'a.b.example.com';
    expect(table.lookup(host, 4, host.length, hashSuffix(host, 4))).toBe(value);
    expect(table.lookup(host, 2, host.length, hashSuffix(host, 2))).toBeUndefined();
    expect(table.lookup(`${host}:443`, 4, host.length, hashSuffix(host, 4))).toBe(value);
    expect(table.get('example.com')).toBe(value);
    expect(table.get('xexample.com')).toBeUndefined();
  });

  it('keeps every name through growth and replaces values in place', () => {
    const table = new HostTable(1);
    for (let index = 0; index < 5000; index++) table.set(`host${index}.example`, refs(index));
    table.set('host7.example', refs(70));
    expect(table.size).toBe(5000);
    for (let index = 0; index < 5000; index++) {
      expect(table.get(`host${index}.example`)?.[0]?.key).toBe(index === 7 ? 70 : index);
    }
  });

  it('tells names whose hashes collide apart by their bytes', () => {
    // Hashed right to left, "aA" and "BB" give the same 31-polynomial hash; so do names ending alike.
    expect(hashSuffix('aA.x')).toBe(hashSuffix('BB.x'));
    const table = new HostTable();
    table.set('aA.x', refs(1));
    expect(table.get('BB.x')).toBeUndefined();
    table.set('BB.x', refs(2));
    expect(table.get('aA.x')?.[0]?.key).toBe(1);
    expect(table.get('BB.x')?.[0]?.key).toBe(2);
  });

  it('clones into an independent table', () => {
    const table = new HostTable();
    table.set('a.example', refs(1));
    const copy = table.clone();
    copy.set('a.example', refs(2));
    copy.set('b.example', refs(3));
    expect(table.get('a.example')?.[0]?.key).toBe(1);
    expect(table.get('b.example')).toBeUndefined();
    expect(copy.get('a.example')?.[0]?.key).toBe(2);
  });

  it('records which label counts its names have', () => {
    const table = new HostTable();
    table.set('example.com', refs(1));
    table.set('a.b.example.com', refs(1));
    expect(table.labelCounts).toBe(labelCountBit('x.y') | labelCountBit('a.b.c.d'));
    expect(labelCountBit(`${'a.'.repeat(40)}a`)).toBe(1 << 31);
  });
});
