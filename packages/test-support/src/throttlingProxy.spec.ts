import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

import { startThrottlingProxy, type ThrottlingProxy } from './throttlingProxy';

const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A TCP server that hands each accepted socket to the test. */
async function startServer(): Promise<{ server: Server; port: number; accepted: Socket[]; next(): Promise<Socket> }> {
  const accepted: Socket[] = [];
  const waiters: Array<(socket: Socket) => void> = [];
  const server = createServer((socket) => {
    accepted.push(socket);
    waiters.shift()?.(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as { port: number }).port,
    accepted,
    next: () =>
      accepted.length > waiters.length
        ? Promise.resolve(accepted[waiters.length])
        : new Promise((resolve) => waiters.push(resolve)),
  };
}

/** Read until `octets` arrived. */
async function readExactly(socket: Socket, octets: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of socket) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= octets) break;
  }
  return Buffer.concat(chunks);
}

describe('throttling proxy', () => {
  let target: Awaited<ReturnType<typeof startServer>>;
  let proxy: ThrottlingProxy;
  const clients: Socket[] = [];

  beforeEach(async () => {
    target = await startServer();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await proxy?.close();
    for (const socket of target.accepted) socket.destroy();
    await new Promise((resolve) => target.server.close(resolve));
  });

  async function connect(): Promise<Socket> {
    const endpoint = proxy.endpoint as { host: string; port: number };
    const client = createConnection(endpoint.port, endpoint.host);
    clients.push(client);
    await once(client, 'connect');
    return client;
  }

  it('delivers every octet in order, no faster than the bandwidth allows', async () => {
    proxy = await startThrottlingProxy({ target: { port: target.port }, bytesPerSecond: 512 * 1024 });
    const client = await connect();
    const server = await target.next();
    const data = randomBytes(256 * 1024);
    const started = performance.now();
    client.write(data);
    const received = await readExactly(server, data.length);
    expect(performance.now() - started).toBeGreaterThanOrEqual(500 * 0.95);
    expect(digest(received)).toBe(digest(data));
    expect(proxy.forwarded.up).toBe(data.length);
  });

  it('adds the latency in each direction', async () => {
    proxy = await startThrottlingProxy({ target: { port: target.port }, latencyMs: 100 });
    const client = await connect();
    const server = await target.next();
    server.on('data', (chunk) => server.write(chunk)); // echo
    const started = performance.now();
    client.write('x');
    await once(client, 'data');
    expect(performance.now() - started).toBeGreaterThanOrEqual(200 * 0.95);
  });

  it('a stall moves nothing until resumed; a server that gives up meanwhile is seen, and the client learns on resume', async () => {
    proxy = await startThrottlingProxy({ target: { port: target.port } });
    const client = await connect();
    const server = await target.next();
    proxy.stall();
    client.write('held');
    const serverGone = proxy.whenOpenAtMost(0);
    server.end('bye');
    await serverGone;
    expect(proxy.forwarded).toEqual({ up: 0, down: 0 });
    expect(client.destroyed).toBe(false);

    proxy.resume();
    const [farewell] = (await once(client, 'data')) as [Buffer];
    expect(farewell.toString()).toBe('bye');
    await once(client, 'end');
  });

  it('a cut closes both sides at once', async () => {
    proxy = await startThrottlingProxy({ target: { port: target.port } });
    const client = await connect();
    const server = await target.next();
    client.on('error', () => undefined);
    server.on('error', () => undefined);
    proxy.cut();
    await Promise.all([once(client, 'close'), once(server, 'close')]);
    expect(proxy.accepted).toBe(1);
    expect(proxy.open).toBe(0);
  });
});
