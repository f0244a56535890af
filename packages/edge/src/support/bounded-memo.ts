/**
 * Remembers a pure function of a string for the request path, where the same few inputs come back on every
 * request (Host and Accept values): a Map lookup instead of the work. Bounded: once `max` inputs are held
 * it starts over, so a client inventing inputs costs a recomputation each, never memory. Not lru-cache:
 * its recency bookkeeping on every hit costs more than most of what is remembered here.
 */
export function boundedMemo<T extends object | string | number | boolean | null>(
  compute: (input: string) => T,
  max: number,
): (input: string) => T {
  const memo = new Map<string, T>();
  // The last input and its result, checked first: the same value usually comes again on the next request,
  // and comparing it costs less than hashing a string node:http has just made (~300 instructions).
  let lastInput: string | undefined;
  let lastResult: T | undefined;
  return (input) => {
    if (input === lastInput) return lastResult as T;
    let result = memo.get(input);
    if (result === undefined) {
      result = compute(input);
      if (memo.size >= max) memo.clear();
      memo.set(input, result);
    }
    lastInput = input;
    lastResult = result;
    return result;
  };
}
