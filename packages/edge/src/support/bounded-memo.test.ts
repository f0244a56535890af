import { describe, expect, it } from 'vitest';
import { boundedMemo } from './bounded-memo.js';

describe('boundedMemo', () => {
  it('computes each input once while it is remembered, and holds at most max inputs', () => {
    const computed: string[] = [];
    const upper = boundedMemo((input) => {
      computed.push(input);
      return input.toUpperCase();
    }, 2);
    expect([upper('a'), upper('a'), upper('b'), upper('a')]).toEqual(['A', 'A', 'B', 'A']);
    expect(computed).toEqual(['a', 'b']);
    // A third input starts the memo over: 'a' is computed again, then remembered.
    expect([upper('c'), upper('a'), upper('a')]).toEqual(['C', 'A', 'A']);
    expect(computed).toEqual(['a', 'b', 'c', 'a']);
  });

  it('answers an input repeated right after itself from what it gave, and computes nothing twice that it holds', () => {
    const computed: string[] = [];
    const length = boundedMemo((input) => {
      computed.push(input);
      return input.length;
    }, 2);
    expect(['ab', 'ab', 'abc', 'abc', 'ab', 'd', 'd', 'abc'].map(length)).toEqual([2, 2, 3, 3, 2, 1, 1, 3]);
    expect(computed).toEqual(['ab', 'abc', 'd', 'abc']);
  });

  it('remembers falsy results too', () => {
    let calls = 0;
    const never = boundedMemo(() => {
      calls++;
      return false;
    }, 4);
    never('x');
    never('x');
    expect(calls).toBe(1);
  });
});
