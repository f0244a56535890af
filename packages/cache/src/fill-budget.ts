/**
 * Bounds the bytes held at once by responses being collected for storage (`maxFillBytes`): without it,
 * many concurrent misses of large-but-allowed bodies could each hold up to `maxEntryBytes`.
 */
export interface FillBudget {
  /** Takes `bytes` from the budget; false (and nothing taken) when that would exceed it. */
  tryReserve(bytes: number): boolean;
  release(bytes: number): void;
  readonly bytesInUse: number;
}

/** Creates a budget of `maxBytes`. */
export function createFillBudget(maxBytes: number): FillBudget {
  let bytesInUse = 0;
  return {
    tryReserve(bytes) {
      if (bytesInUse + bytes > maxBytes) return false;
      bytesInUse += bytes;
      return true;
    },
    release(bytes) {
      bytesInUse = Math.max(0, bytesInUse - bytes);
    },
    get bytesInUse() {
      return bytesInUse;
    },
  };
}
