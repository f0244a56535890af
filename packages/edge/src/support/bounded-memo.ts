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
  return (input) => {
    let result = memo.get(input);
    if (result === undefined) {
      result = compute(input);
      if (memo.size >= max) memo.clear();
      memo.set(input, result);
    }
    return result;
  };
}
