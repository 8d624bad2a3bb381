import {
  createHash,
  generateKeyPairSync,
  randomBytes,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import WebSocket from 'ws';
import { type Logger } from '@twitter-relaynet/core';

import { decodeChallenge, decodeComplete, encodeResponse } from '../src/proto';

/** A fresh directory for sockets; removed by the returned cleanup. */
export function tempSocketPath(): { socketPath: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powebsocket-'));
  return { socketPath: path.join(dir, 'gw.sock'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

export function capturingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    info: (obj, msg) => entries.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => entries.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => entries.push({ level: 'error', obj, msg }),
  };
}

/**
 * Test identities: Ed25519 signatures over the nonce stand in for CMS SignedData here (the crypto is
 * injected); the id is the SHA-256 of the SPKI, like a Relaynet private address.
 */
export class TestIdentity {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly id: string;
  constructor() {
    const pair = generateKeyPairSync('ed25519');
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
    this.id = `0${createHash('sha256')
      .update(this.publicKey.export({ format: 'der', type: 'spki' }))
      .digest('hex')}`;
  }
  /** Signature format for tests: 1 octet key index ‖ Ed25519 signature. */
  signWith(index: number, nonce: Buffer): Buffer {
    return Buffer.concat([Buffer.from([index]), edSign(null, nonce, this.privateKey)]);
  }
}

/** Gateway-side verifier accepting signatures from the given (issued) identities only. */
export function testVerifier(issued: readonly TestIdentity[]) {
  return async (nonce: Buffer, signatures: readonly Buffer[]): Promise<string[]> =>
    signatures.map((signature) => {
      const identity = issued[signature[0]!];
      if (!identity || !edVerify(null, nonce, identity.publicKey, signature.subarray(1))) {
        throw new Error('signature does not verify');
      }
      return identity.id;
    });
}

export function testSigner(identities: ReadonlyArray<{ identity: TestIdentity; index: number }>) {
  return async (nonce: Buffer): Promise<Buffer[]> =>
    identities.map(({ identity, index }) => identity.signWith(index, nonce));
}

/** A masked client WebSocket frame (RFC 6455 §5.2). */
export function wsFrame(
  opcode: number,
  payload: Buffer,
  options: { fin?: boolean; mask?: boolean; declaredLength?: number } = {},
): Buffer {
  const fin = options.fin ?? true;
  const mask = options.mask ?? true;
  const length = options.declaredLength ?? payload.length;
  const header: number[] = [(fin ? 0x80 : 0) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126) header.push(maskBit | length);
  else if (length < 65536) header.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    header.push(maskBit | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    header.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(header), payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from(header), key, masked]);
}

/**
 * Raw client: HTTP upgrade by hand, then `bytes` written verbatim (they are WebSocket frames, or
 * garbage). Resolves with `close:<code>` when the server's close frame arrives, `http:<status>` if the
 * upgrade was refused, or `closed` if the socket ended without a close frame.
 */
export function rawExchange(
  socketPath: string,
  bytes: Buffer,
  options: { upgrade?: boolean; timeoutMs?: number } = {},
): Promise<{ reason: string; closeReason?: string }> {
  const upgrade = options.upgrade ?? true;
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    let done = false;
    const finish = (result: { reason: string; closeReason?: string } | Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(
      () => finish(new Error('server did not end the raw connection')),
      options.timeoutMs ?? 10_000,
    );
    socket.on('connect', () => {
      if (upgrade) {
        socket.write(
          'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      } else {
        socket.write(bytes);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = /^HTTP\/1\.1 (\d{3})/.exec(buffer.toString('latin1'))?.[1];
        if (!upgrade || status !== '101') {
          finish({ reason: `http:${status}` });
          return;
        }
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        socket.write(bytes);
      }
      // Parse server (unmasked) frames until a close frame.
      for (;;) {
        if (buffer.length < 2) return;
        const opcode = buffer[0]! & 0x0f;
        let length = buffer[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return;
        const payload = buffer.subarray(offset, offset + length);
        buffer = buffer.subarray(offset + length);
        if (opcode === 0x8) {
          finish({
            reason: payload.length >= 2 ? `close:${payload.readUInt16BE(0)}` : 'close:1005',
            closeReason: payload.subarray(2).toString('utf8'),
          });
          return;
        }
      }
    });
    socket.on('error', () => finish({ reason: 'closed' }));
    socket.on('close', () => finish({ reason: 'closed' }));
  });
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RawWsClient {
  readonly ws: WebSocket;
  /** Next binary message from the server. */
  next(): Promise<Buffer>;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly pings: { count: number };
}

/** A bare `ws` client, to send arbitrary (well-framed) messages; optionally completes the handshake. */
export async function rawWsClient(
  socketPath: string,
  options: { sign?: (nonce: Buffer) => Promise<Buffer[]>; autoPong?: boolean } = {},
): Promise<RawWsClient> {
  const ws = new WebSocket(`ws+unix://${socketPath}:/`, {
    autoPong: options.autoPong ?? true,
    perMessageDeflate: false,
  });
  const queue: Buffer[] = [];
  const waiters: Array<(data: Buffer) => void> = [];
  const pings = { count: 0 };
  ws.on('ping', () => pings.count++);
  ws.on('message', (data: Buffer) => {
    const waiter = waiters.shift();
    if (waiter) waiter(data);
    else queue.push(data);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (): Promise<Buffer> => {
    const queued = queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => waiters.push(resolve));
  };
  if (options.sign) {
    const nonce = decodeChallenge(await next());
    ws.send(encodeResponse(await options.sign(Buffer.from(nonce, 'utf8'))));
    if (!decodeComplete(await next())) throw new Error('handshake failed');
  }
  return { ws, next, closed, pings };
}
