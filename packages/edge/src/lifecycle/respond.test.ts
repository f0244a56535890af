import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pipeBody } from './respond.js';

// pipeBody over a real socket: a node:http server streams `body` to a raw TCP client.
let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

type Streamed = { body: PassThrough; piped: Promise<void>; res: ServerResponse };

/**
 * Starts a server whose one response pipes a fresh PassThrough (`pausedFirst`: one paused before it is handed
 * over); resolves once a client is connected to it.
 */
async function streamToClient(contentLength: number, onBlocked?: () => void, pausedFirst = false) {
  let streamed: (value: Streamed) => void = () => undefined;
  const started = new Promise<Streamed>((resolve) => {
    streamed = resolve;
  });
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(contentLength) });
    const body = new PassThrough();
    if (pausedFirst) body.pause();
    const piped = pipeBody(body, res, onBlocked);
    piped.catch(() => undefined);
    streamed({ body, piped, res });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const client = connect(port, '127.0.0.1');
  client.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
  const received: Buffer[] = [];
  client.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = once(client, 'close').then(() => Buffer.concat(received).toString());
  return { client, closed, ...(await started) };
}

function drainsWithin(stream: PassThrough, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stream.off('drain', drained);
      resolve(false);
    }, ms);
    const drained = () => {
      clearTimeout(timer);
      resolve(true);
    };
    stream.once('drain', drained);
  });
}

describe('pipeBody', () => {
  it('resolves once the whole body has been handed to the client', async () => {
    const { body, piped, closed, client } = await streamToClient(10);
    body.write('hello');
    body.end('world');
    await expect(piped).resolves.toBeUndefined();
    client.end();
    expect(await closed).toMatch(/\r\n\r\nhelloworld$/);
  });

  it('streams a body that was paused before it was handed over', async () => {
    const { body, piped, closed, client } = await streamToClient(10, undefined, true);
    body.end('helloworld');
    await expect(piped).resolves.toBeUndefined();
    client.end();
    expect(await closed).toMatch(/\r\n\r\nhelloworld$/);
  });

  it('never reports a body the client takes at once as blocked, its end included', async () => {
    let blocked = 0;
    const { body, piped, client } = await streamToClient(10, () => blocked++);
    body.end('helloworld');
    await piped;
    await new Promise((resolve) => setImmediate(resolve));
    expect(blocked).toBe(0);
    client.end();
  });

  it('pauses the body while the client is not reading, and finishes once it reads again', async () => {
    let blocked = 0;
    const size = 64 * 1024 * 1024;
    const { body, piped, client, closed } = await streamToClient(size, () => blocked++);
    client.pause();
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    let written = 0;
    // Fill until the body stays full: the kernel's buffers are full, the response stopped taking chunks
    // and the body stopped flowing.
    while (written < size) {
      written += chunk.length;
      if (!body.write(chunk) && !(await drainsWithin(body, 200))) break;
    }
    expect(written).toBeLessThan(size);
    expect(blocked).toBeGreaterThan(0);
    expect(body.isPaused()).toBe(true);
    client.resume();
    while (written < size) {
      written += chunk.length;
      if (!body.write(chunk)) await once(body, 'drain');
    }
    body.end();
    await expect(piped).resolves.toBeUndefined();
    client.end();
    expect((await closed).length).toBeGreaterThan(size);
  });

  it('cuts the client connection and rejects when the body fails mid-stream', async () => {
    const { body, piped, closed, res } = await streamToClient(10);
    body.write('hello');
    body.destroy(new Error('origin reset'));
    await expect(piped).rejects.toThrow('origin reset');
    expect(res.destroyed).toBe(true);
    // The client sees a truncated body (5 of 10 bytes), never a complete-looking response.
    expect(await closed).toMatch(/\r\n\r\nhello$/);
  });

  it('cuts the client when the body closes before its end without an error', async () => {
    const { body, piped, closed } = await streamToClient(10);
    body.write('hello');
    body.destroy();
    await expect(piped).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(await closed).toMatch(/\r\n\r\nhello$/);
  });

  it('destroys the body and rejects when the client goes away mid-stream', async () => {
    const { body, piped, client } = await streamToClient(1_000_000);
    body.write('hello');
    client.destroy();
    await expect(piped).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(body.destroyed).toBe(true);
  });

  it('survives a body error after the response finished', async () => {
    const { body, piped, client } = await streamToClient(5);
    body.end('hello');
    await piped;
    body.emit('error', new Error('late'));
    client.destroy();
  });
});
