import { Agent, request } from 'node:http';
import { type RequestShape, shapeRequestOptions } from '../system/http-probe.js';

/**
 * Sends `count` requests of one shape over `connections` keep-alive connections, each connection sending
 * its next request when the previous answer has been read (a closed loop: the server is never queued up,
 * which suits a server slowed 50 times by valgrind). Rejects on the first socket error, timeout or status
 * other than `status`: a count of instructions spent on errors would be no figure.
 */
export async function sendRequests(
  baseUrl: string,
  shape: RequestShape,
  status: number,
  count: number,
  connections = 8,
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(shape.path, baseUrl);
  let sent = 0;
  let failed = false;
  const sendOne = (): Promise<void> =>
    new Promise((resolve, reject) => {
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
      sent++;
      await sendOne().catch((error: unknown) => {
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
