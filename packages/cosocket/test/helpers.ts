import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CoSocketClient, type CoSocketServerOptions, createCoSocketServer, quitReasonName } from '../src';

export async function makeTempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cosocket-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Open a raw Unix connection, write `bytes` (optionally in several chunks) and resolve with how the server
 * ended it: `quit:<reason>` if it sent a Quit packet first, `closed` otherwise. Rejects after `timeoutMs`.
 */
export function sendRawBytes(
  socketPath: string,
  bytes: Buffer | Buffer[],
  timeoutMs = 5_000,
): Promise<{ reason: string; received: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('Server did not end the raw connection'));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined); // EPIPE/ECONNRESET once the server has quit
    socket.on('connect', () => {
      for (const part of Array.isArray(bytes) ? bytes : [bytes]) socket.write(part);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const received = Buffer.concat(chunks);
      const isQuit = received.length >= 4 && received.readUInt16LE(received.length - 4) === 0xff;
      resolve({
        reason: isQuit ? `quit:${quitReasonName(received.readUInt16LE(received.length - 2))}` : 'closed',
        received,
      });
    });
  });
}

/**
 * A Unix socket path in a fresh temporary folder for each test, and servers and clients on it that are
 * closed after the test (in reverse order).
 */
export function socketFixture(): {
  readonly socketPath: () => string;
  startServer(options: Partial<CoSocketServerOptions>): Promise<void>;
  connect(): Promise<CoSocketClient>;
  closeAll(): Promise<void>;
} {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let path = '';
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };
  beforeEach(async () => {
    temp = await makeTempDir();
    path = join(temp.dir, 'gw.sock');
  });
  afterEach(async () => {
    await closeAll();
    await temp.cleanup();
  });
  return {
    socketPath: () => path,
    async startServer(options) {
      const server = await createCoSocketServer({
        socketPath: path,
        onCargoDelivered: async () => undefined,
        ...options,
      });
      closers.push(() => server.close());
    },
    async connect() {
      const client = await CoSocketClient.connect(path);
      closers.push(() => client.close());
      return client;
    },
    closeAll,
  };
}
