import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { quitReasonName } from '../src';

export async function makeTempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cosocket-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Open a raw Unix connection, write `bytes` (optionally in several chunks) and resolve with how the server
 * ended it: `quit:<reason>` if it sent a Quit packet first, `closed` otherwise. Rejects after `timeoutMs`.
 */
export function sendRawBytes(socketPath: string, bytes: Buffer | Buffer[], timeoutMs = 5_000): Promise<{ reason: string; received: Buffer }> {
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
