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
