/** What one measured run of a load tool produced, whatever the tool. */
export type LoadResult = {
  tool: 'autocannon' | 'wrk' | 'paced';
  /** Responses received (any status). */
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  /** Response bytes a second, headers included (as each tool counts them). */
  bytesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors and timeouts. Unexpected statuses are counted apart, by `checkStatuses`. */
  socketErrors: number;
  /**
   * Responses by status. wrk only tells 2xx/3xx from the rest, so its counts use the keys `2xx-3xx` and
   * `other`; autocannon and the paced client give exact codes.
   */
  statusCounts: Record<string, number>;
  /**
   * Open-loop clients only: p99 of how late requests left the client against their schedule. Latency is
   * measured from the schedule, so a client that falls behind adds its own queueing to every figure.
   */
  sendLagP99Ms?: number;
  /**
   * Open-loop clients only: requests never sent because as many as the client queues were already waiting
   * for answers. Only a stall of about a second or more reaches that; not a socket error.
   */
  unsent?: number;
};
