import { randomBytes } from 'node:crypto';

// A per-process random prefix and a counter: unique across a fleet's logs, and cheaper than a UUID per request.
const prefix = randomBytes(4).toString('hex');
let counter = 0;

/** A request id for logs, the 451 body and `X-Request-Id`-style correlation. */
export function nextRequestId(): string {
  counter += 1;
  return `${prefix}-${counter.toString(36)}`;
}
