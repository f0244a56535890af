import { describe, expect, test } from 'vitest';
import { createUncacheableMemory } from './uncacheable-memory.js';

describe('uncacheable memory', () => {
  test('remembers a key for the configured time by the injected clock', () => {
    let now = 0;
    const memory = createUncacheableMemory(30_000, () => now);
    memory.remember('k');
    now = 29_999;
    expect(memory.has('k')).toBe(true);
    now = 30_000;
    expect(memory.has('k')).toBe(false);
  });

  test('forgets a key whose response became storable, and keeps at most maxKeys', () => {
    const memory = createUncacheableMemory(30_000, () => 0, 2);
    memory.remember('a');
    memory.forget('a');
    expect(memory.has('a')).toBe(false);
    for (const key of ['b', 'c', 'd']) memory.remember(key);
    expect(['b', 'c', 'd'].filter((key) => memory.has(key))).toEqual(['c', 'd']);
  });

  test('a memory time of zero remembers nothing', () => {
    const memory = createUncacheableMemory(0, () => 0);
    memory.remember('k');
    expect(memory.has('k')).toBe(false);
  });
});
