/**
 * Says when a policy version is in force on this node: when every process that decides requests decides
 * them with that version or a later one. The audit log's in-force record carries that instant.
 */
export interface EnforcementWatch {
  /** Resolves with the instant (epoch ms) from which `version` is in force; it may never resolve. */
  inForce(version: number): Promise<number>;
  /** Pids of the processes that have not confirmed `version` yet, for the log line of a late change. */
  lagging(version: number): number[];
}

/**
 * A node that decides requests in this process (`workers: 1`): a version is in force as soon as the policy
 * state has swapped it in, which is done before it is asked, since requests read the snapshot per request.
 */
export const inThisProcess: EnforcementWatch = {
  inForce: async () => Date.now(),
  lagging: () => [],
};

/**
 * How long the admin API waits for a change to be in force before it answers 202 without the instant. A
 * worker confirms a change in milliseconds, and one that has fallen behind rebuilds a full snapshot (under
 * a second at a million hosts); a worker that dies stops being waited for at once, and one alive but not
 * answering (stopped, or its event loop stuck) is killed after `workerConfirmMs` (cluster-workers.ts). So
 * this bound is only reached when that kill does not settle it first (`workerConfirmMs` at or above it, a
 * process the kernel cannot end at once, a change made while the node starts or stops); the in-force
 * record is still written once the worker confirms, or once it is gone.
 */
export const IN_FORCE_WAIT_MS = 10_000;

/** `promise`'s value, or `undefined` once `ms` have passed first; the timer does not hold the process. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
