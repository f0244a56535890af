import { Agent, request } from 'node:http';
import { type RequestShape, shapeRequestOptions } from '../system/http-probe.js';

/** A request and the status its answer must have; `unique` gives it a path of its own each time (misses). */
export type CheckedShape = RequestShape & { status: number; unique?: boolean };

/**
 * Sends `count` requests, the shapes in turn, over `connections` keep-alive connections, each connection
 * sending its next request when the previous answer has been read (a closed loop: the server is never
 * queued up, which suits a server slowed 50 times by valgrind). Rejects on the first socket error, timeout
 * or unexpected status: a count of instructions spent on errors would be no figure.
 */
export async function sendRequests(
  baseUrl: string,
  shapes: readonly CheckedShape[],
  count: number,
  connections = 8,
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let sent = 0;
  let failed = false;
  const sendOne = (n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const listed = shapes[n % shapes.length] as CheckedShape;
      const shape =
        listed.unique === true ? { ...listed, path: `${listed.path}${process.pid}-${n}` } : listed;
      const { status } = shape;
      const url = new URL(shape.path, baseUrl);
      const req = request(shapeRequestOptions(url, shape, agent, 120_000), (res) => {
        res.resume();
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode === status) resolve();
          else reject(new Error(`${shape.host}${shape.path}: status ${res.statusCode}, expected ${status}`));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within 120 s`)));
      req.on('error', reject);
      req.end(shape.body);
    });
  const connection = async () => {
    while (sent < count && !failed) {
      await sendOne(sent++).catch((error: unknown) => {
        failed = true;
        throw error;
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(connections, count) }, connection));
  } finally {
    agent.destroy();
  }
}
