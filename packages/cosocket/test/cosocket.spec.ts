import { spawn } from 'node:child_process';
import { lstat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

import { waitFor } from '@twitter-relaynet/test-support';
import { type Logger } from '@twitter-relaynet/core';

import {
  type CollectedMessage,
  type CollectionItem,
  CoSocketClient,
  CoSocketHandshakeError,
  CoSocketProtocolError,
  CoSocketQuitError,
  createCoSocketServer,
  encodePacket,
  PacketDecoder,
  PacketTag,
  QuitReason,
  type CoSocketServer,
  type CoSocketServerOptions,
} from '../src';
import { makeTempDir, sendRawBytes } from './helpers';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let socketPath: string;
const servers: Array<{ close(): Promise<void> }> = [];
const clients: CoSocketClient[] = [];

beforeEach(async () => {
  temp = await makeTempDir();
  socketPath = join(temp.dir, 'gw.sock');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await temp.cleanup();
});

function recordingLogger(): Logger & {
  lines: Array<{ level: string; message: string; fields: Record<string, unknown> }>;
} {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) =>
    lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

async function startServer(options: Partial<CoSocketServerOptions> = {}): Promise<CoSocketServer> {
  const server = await createCoSocketServer({
    socketPath,
    onCargoDelivered: async () => undefined,
    ...options,
  } as CoSocketServerOptions);
  servers.push(server);
  return server;
}

async function connect(options: Parameters<typeof CoSocketClient.connect>[1] = {}): Promise<CoSocketClient> {
  const client = await CoSocketClient.connect(socketPath, options);
  clients.push(client);
  return client;
}

async function collectAll(iterable: AsyncIterable<CollectedMessage>, ack = true): Promise<CollectedMessage[]> {
  const out: CollectedMessage[] = [];
  for await (const message of iterable) {
    out.push(message);
    if (ack) await message.ack();
  }
  return out;
}

describe('cargo collection', () => {
  it('at the user gateway: no CCA, cargo plus a fresh CCA (extension packet 0x10), then completion', async () => {
    const requests: Array<Buffer | null> = [];
    const acked: string[] = [];
    await startServer({
      onCargoCollectionRequest: (cca) => {
        requests.push(cca);
        return {
          gatewayAddress: 'rng+socket://relayer-gw',
          items: [
            { cargo: Buffer.from('cargo-1'), onAck: async () => void acked.push('cargo-1') },
            { cca: Buffer.from('cca-for-relaying-gateway'), onAck: async () => void acked.push('cca') },
            { cargo: Buffer.from('cargo-2'), onAck: async () => void acked.push('cargo-2') },
          ] satisfies CollectionItem[],
        };
      },
    });
    const client = await connect();

    const messages = await collectAll(client.collectCargo());

    expect(requests).toEqual([null]);
    expect(messages.map((m) => [m.kind, m.message.toString()])).toEqual([
      ['cargo', 'cargo-1'],
      ['cca', 'cca-for-relaying-gateway'],
      ['cargo', 'cargo-2'],
    ]);
    await client.close();
    expect(acked.sort()).toEqual(['cargo-1', 'cargo-2', 'cca']);
  });

  it('at the relaying gateway: the CCA reaches the handler and completion comes even with nothing to send', async () => {
    const requests: Array<Buffer | null> = [];
    await startServer({
      onCargoCollectionRequest: (cca) => {
        requests.push(cca);
        return { items: [] };
      },
    });
    const client = await connect();

    const messages = await collectAll(client.collectCargo(Buffer.from('the CCA')));

    expect(messages).toEqual([]);
    expect(requests.map((r) => r?.toString())).toEqual(['the CCA']);
  });

  it('the gateway learns of an ack only when the relayer calls ack(), i.e. after it stored the cargo', async () => {
    const onAck = jest.fn(async () => undefined);
    await startServer({ onCargoCollectionRequest: () => ({ items: [{ cargo: Buffer.from('c'), onAck }] }) });
    const client = await connect();

    const messages = await collectAll(client.collectCargo(), false);
    await client.close();

    expect(messages).toHaveLength(1);
    expect(onAck).not.toHaveBeenCalled();
  });

  it('the gateway pushes at most `window` unacknowledged cargoes and continues as acks arrive', async () => {
    let pulled = 0;
    function* items(): Generator<CollectionItem> {
      for (let i = 0; i < 12; i++) {
        pulled++;
        yield { cargo: Buffer.from(`cargo-${i}`) };
      }
    }
    await startServer({ window: 3, onCargoCollectionRequest: () => ({ items: items() }) });
    const client = await connect({ window: 3 });
    const iterator = client.collectCargo()[Symbol.asyncIterator]();
    const held: CollectedMessage[] = [];
    for (let i = 0; i < 3; i++) held.push((await iterator.next()).value as CollectedMessage);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pulled).toBeLessThanOrEqual(4);

    await Promise.all(held.map((m) => m.ack()));
    const rest: CollectedMessage[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      rest.push(next.value);
      await next.value.ack();
    }
    expect([...held, ...rest].map((m) => m.message.toString())).toEqual(
      Array.from({ length: 12 }, (_, i) => `cargo-${i}`),
    );
  });

  it('a server without a collection handler quits with invalid-packet', async () => {
    await startServer();
    const client = await connect();
    await expect(collectAll(client.collectCargo())).rejects.toThrow(CoSocketQuitError);
  });

  it('a handler refusing the CCA quits with its reason; a failing one quits with internal-error', async () => {
    await startServer({
      onCargoCollectionRequest: (cca) => {
        if (cca?.toString() === 'forged') throw new CoSocketProtocolError('CCA is invalid', QuitReason.HANDSHAKE_ERROR);
        throw new Error('database down');
      },
    });
    const refused = await connect();
    await expect(collectAll(refused.collectCargo(Buffer.from('forged')))).rejects.toMatchObject({
      quitReason: QuitReason.HANDSHAKE_ERROR,
    });
    const failed = await connect();
    await expect(collectAll(failed.collectCargo())).rejects.toMatchObject({ quitReason: QuitReason.INTERNAL_ERROR });
  });

  it('deliver first, then collect, on one connection (the RS-000 order)', async () => {
    const stored: string[] = [];
    await startServer({
      onCargoDelivered: async (cargo) => void stored.push(cargo.toString()),
      onCargoCollectionRequest: () => ({ items: [{ cargo: Buffer.from('reply') }] }),
    });
    const client = await connect();

    const report = await client.deliverCargo([{ id: 'a', cargo: Buffer.from('outbound') }]);
    const collected = await collectAll(client.collectCargo(Buffer.from('cca')));

    expect(report).toEqual({ acked: ['a'], unacked: [], refused: [] });
    expect(stored).toEqual(['outbound']);
    expect(collected.map((m) => m.message.toString())).toEqual(['reply']);
  });
});

describe('delivery failures', () => {
  it('a store that fails is never acked: the server quits with internal-error and the cargo is reported unacked', async () => {
    const logger = recordingLogger();
    await startServer({ logger, onCargoDelivered: async () => Promise.reject(new Error('disk full')) });
    const client = await connect();

    const report = await client.deliverCargo([{ id: 'x', cargo: Buffer.from('c') }]);

    expect(report.acked).toEqual([]);
    expect(report.unacked.map((u) => u.id)).toEqual(['x']);
    expect(report.error).toBeInstanceOf(CoSocketQuitError);
    expect((report.error as CoSocketQuitError).quitReason).toBe(QuitReason.INTERNAL_ERROR);
    expect(logger.lines.some((l) => l.level === 'error' && /disk full/.test(l.message))).toBe(true);
  });

  it('more deliveries than the window in flight: quit with quota-reached, nothing past the window stored', async () => {
    const stored: Buffer[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await startServer({
      onCargoDelivered: async (cargo) => {
        await gate;
        stored.push(cargo);
      },
    });
    const tag = (t: number) => Buffer.from([t, 0]);
    const delivery = (i: number) =>
      Buffer.concat([tag(1), Buffer.from([1, 0x30 + i]), Buffer.from([1, 0, 0, 0]), Buffer.from([i])]);
    const outcome = await sendRawBytes(socketPath, Buffer.concat([0, 1, 2, 3, 4, 5, 6].map(delivery)));
    release();

    expect(outcome.reason).toBe('quit:quota-reached');
    await new Promise((resolve) => setImmediate(resolve));
    expect(stored.length).toBeLessThanOrEqual(1); // only the one being stored when the quota was hit
  });

  it('duplicate delivery id in flight is refused', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await startServer({ onCargoDelivered: () => gate });
    const packet = Buffer.concat(
      encodePacket({ tag: PacketTag.CARGO_DELIVERY, deliveryId: 'same', cargo: Buffer.from('x') }),
    );
    const outcome = await sendRawBytes(socketPath, Buffer.concat([packet, packet]));
    release();
    expect(outcome.reason).toBe('quit:invalid-packet');
  });

  it('the client refuses an oversized or empty cargo, or a bad id, without sending it', async () => {
    const onCargoDelivered = jest.fn(async () => undefined);
    await startServer({ onCargoDelivered });
    const client = await connect({ maxMessageLength: 10 });

    const tooBig = await client.deliverCargo([{ id: 'a', cargo: Buffer.alloc(11) }]);
    const empty = await client.deliverCargo([{ id: 'b', cargo: Buffer.alloc(0) }]);
    const badId = await client.deliverCargo([{ id: 'x'.repeat(256), cargo: Buffer.alloc(1) }]);

    for (const report of [tooBig, empty, badId]) {
      expect(report.acked).toEqual([]);
      expect(report.unacked).toHaveLength(1);
      expect(report.error).toBeDefined();
    }
    expect(onCargoDelivered).not.toHaveBeenCalled();
    expect(client.isClosed).toBe(false);
  });

  it('the server quits a connection that outlives the overall timeout', async () => {
    await startServer({ connectionTimeoutMs: 150, idleTimeoutMs: 10_000 });
    const outcome = await sendRawBytes(socketPath, Buffer.alloc(0));
    expect(outcome.reason).toBe('quit:timeout');
  });
});

describe('memory bounds', () => {
  it('stops reading while received, unstored cargo reaches maxBufferedBytes, and resumes as stores complete', async () => {
    const size = 1024 * 1024;
    const stored: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let storesStarted = 0;
    const server = await startServer({
      maxBufferedBytes: size,
      onCargoDelivered: async (_cargo, deliveryId) => {
        storesStarted++;
        await gate;
        stored.push(deliveryId);
      },
    });
    const client = await connect();
    const cargoes = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, cargo: Buffer.alloc(size, id) }));

    const delivering = client.deliverCargo(cargoes);
    await waitFor('the first store to start', () => storesStarted === 1, 10_000, 10);
    // Give the client time to push everything it can: the server must not read past the bound (one
    // cargo being stored, reaching the limit, plus at most the packet the last socket chunk started).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.bufferedBytes()).toBeLessThanOrEqual(2 * size + 1024);
    release();

    expect(await delivering).toEqual({ acked: ['a', 'b', 'c', 'd', 'e'], unacked: [], refused: [] });
    expect(stored).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(server.bufferedBytes()).toBe(0);
  });
});

describe('a misbehaving gateway (fake server)', () => {
  let fake: Server;
  async function startFake(onConnection: (socket: Socket, packets: PacketDecoder) => void): Promise<void> {
    const sockets: Socket[] = [];
    fake = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      onConnection(socket, new PacketDecoder());
      socket.resume();
    });
    await new Promise<void>((resolve) => fake.listen(socketPath, resolve));
    servers.push({
      close: () => {
        sockets.forEach((s) => s.destroy());
        return new Promise((resolve) => fake.close(() => resolve()));
      },
    });
  }
  const send = (socket: Socket, ...packets: Parameters<typeof encodePacket>[0][]) =>
    socket.write(Buffer.concat(packets.flatMap((p) => encodePacket(p))));

  it('acking an unknown delivery id makes the client quit with invalid-packet', async () => {
    const fromClient: number[] = [];
    await startFake((socket, decoder) => {
      socket.on('data', (chunk) => {
        for (const packet of decoder.push(chunk)) {
          fromClient.push(packet.tag);
          if (packet.tag === PacketTag.CARGO_DELIVERY)
            send(socket, { tag: PacketTag.CARGO_COLLECTION, deliveryId: 'bogus' });
        }
      });
    });
    const client = await connect();
    const report = await client.deliverCargo([{ id: 'real', cargo: Buffer.from('c') }]);

    expect(report.unacked.map((u) => u.id)).toEqual(['real']);
    expect(report.error).toBeInstanceOf(CoSocketProtocolError);
    expect((report.error as CoSocketProtocolError).quitReason).toBe(QuitReason.INVALID_PACKET);
  });

  it('pushing more than `window` unacked cargoes makes the client quit with quota-reached', async () => {
    await startFake((socket, decoder) => {
      socket.on('data', (chunk) => {
        for (const packet of decoder.push(chunk)) {
          if (packet.tag === PacketTag.CARGO_COLLECTION_REQUEST) {
            for (let i = 0; i < 3; i++) {
              send(socket, { tag: PacketTag.CARGO_DELIVERY, deliveryId: `d${i}`, cargo: Buffer.from('c') });
            }
          }
        }
      });
    });
    const client = await connect({ window: 2 });
    await expect(collectAll(client.collectCargo(), false)).rejects.toMatchObject({
      quitReason: QuitReason.QUOTA_REACHED,
    });
  });

  it('cargo pushed without a collection request is an invalid packet', async () => {
    await startFake((socket) =>
      send(socket, { tag: PacketTag.CARGO_DELIVERY, deliveryId: 'd', cargo: Buffer.from('c') }),
    );
    const client = await connect();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const report = await client.deliverCargo([{ id: 'a', cargo: Buffer.from('c') }]);
    expect(report.error).toMatchObject({ quitReason: QuitReason.INVALID_PACKET });
  });
});

describe('handshake (optional; pluggable signing and verification)', () => {
  const signer = async (nonce: Buffer) => [Buffer.concat([Buffer.from('sig:'), nonce])];
  const verifier = async (nonce: Buffer, signatures: readonly Buffer[]) =>
    signatures.length === 1 && signatures[0].equals(Buffer.concat([Buffer.from('sig:'), nonce]));

  it('succeeds with a good signer/verifier pair and then serves deliveries', async () => {
    const nonces: Buffer[] = [];
    await startServer({
      handshakeSigner: async (nonce) => {
        nonces.push(nonce);
        return signer(nonce);
      },
    });
    const client = await connect({ handshakeVerifier: verifier });
    const report = await client.deliverCargo([{ id: 'a', cargo: Buffer.from('c') }]);
    expect(report.acked).toEqual(['a']);
    expect(nonces).toHaveLength(1);
    expect(nonces[0]).toHaveLength(32);
  });

  it('the client quits with handshake-error when the signatures do not verify', async () => {
    const logger = recordingLogger();
    await startServer({ logger, handshakeSigner: async () => [Buffer.from('forged')] });
    await expect(CoSocketClient.connect(socketPath, { handshakeVerifier: verifier })).rejects.toThrow(
      CoSocketHandshakeError,
    );
  });

  it('a server requiring the handshake quits with handshake-error on any other first packet', async () => {
    await startServer({ handshakeSigner: signer });
    const outcome = await sendRawBytes(
      socketPath,
      Buffer.concat(encodePacket({ tag: PacketTag.CARGO_DELIVERY, deliveryId: 'a', cargo: Buffer.from('c') })),
    );
    expect(outcome.reason).toBe('quit:handshake-error');
  });

  it('a client expecting a handshake from a server without a signer fails cleanly', async () => {
    await startServer();
    await expect(CoSocketClient.connect(socketPath, { handshakeVerifier: verifier })).rejects.toThrow(
      CoSocketHandshakeError,
    );
  });
});

describe('socket file', () => {
  it('is created with owner-only permissions and removed on close', async () => {
    const server = await startServer();
    const stats = await lstat(socketPath);
    expect(stats.isSocket()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o600);
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('replaces a stale socket nobody listens on', async () => {
    // A crashed gateway: SIGKILL leaves the socket file behind with nobody listening.
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    await new Promise((resolve) => child.once('exit', resolve));
    expect((await lstat(socketPath)).isSocket()).toBe(true);

    await startServer();
    const client = await connect();
    expect((await client.deliverCargo([{ id: 'a', cargo: Buffer.from('c') }])).acked).toEqual(['a']);
  });

  it('refuses to replace a path that is not a socket, or a live socket', async () => {
    await writeFile(socketPath, 'precious');
    await expect(startServer()).rejects.toThrow(/not a socket/);

    const otherPath = join(temp.dir, 'live.sock');
    await startServer({ socketPath: otherPath });
    await expect(startServer({ socketPath: otherPath })).rejects.toThrow(/Another server is listening/);
  });
});

describe('TCP (optional)', () => {
  it('works over TCP on loopback', async () => {
    const stored: string[] = [];
    const server = await createCoSocketServer({
      port: 0,
      onCargoDelivered: async (c) => void stored.push(c.toString()),
    });
    servers.push(server);
    const { port } = server.address as { port: number };
    const client = await CoSocketClient.connect({ port });
    clients.push(client);
    expect((await client.deliverCargo([{ cargo: Buffer.from('over tcp') }])).acked).toHaveLength(1);
    expect(stored).toEqual(['over tcp']);
  });
});

describe('logging', () => {
  it('logs the reason of every malformed connection it ends', async () => {
    const logger = recordingLogger();
    await startServer({ logger });
    await sendRawBytes(socketPath, Buffer.from([0x34, 0x12]));
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'Quitting CoSocket connection: Unknown packet tag 0x1234',
        fields: expect.objectContaining({ quitReason: 'invalid-packet' }),
      }),
    );
  });
});
