import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { type Logger } from '@twitter-relaynet/core';

import {
  type ClientTls,
  createPogRPCServer,
  generateSelfSignedCertificate,
  loadPogRPCService,
  MAX_PARCEL_LENGTH,
  type ParcelContext,
  PogRPCCallError,
  PogRPCClient,
  type PogRPCServer,
  type PogRPCServerOptions,
  PogRPCProtocolError,
  POGRPC_PROTO_PATH,
} from '../src';

const identity = generateSelfSignedCertificate();
const pinned: ClientTls = { pinnedCertificatePem: identity.certificatePem };
const METHOD = '/relaynet.pogrpc.PogRPC/DeliverParcels';

let dir: string;
const servers: PogRPCServer[] = [];
const closers: Array<() => void> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pogrpc-test-'));
});
afterEach(async () => {
  closers.splice(0).forEach((close) => close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

function recordingLogger(): Logger & {
  lines: Array<{ level: string; message: string; fields: Record<string, unknown> }>;
} {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) =>
    lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

async function startServer(options: Partial<PogRPCServerOptions> = {}): Promise<PogRPCServer> {
  const server = await createPogRPCServer({
    address: '127.0.0.1:0',
    tls: identity,
    onParcel: async () => undefined,
    ...options,
  });
  servers.push(server);
  return server;
}

function client(target: string, tls: ClientTls = pinned, gatewayAddress?: string): PogRPCClient {
  const c = new PogRPCClient(target, { tls, gatewayAddress });
  closers.push(() => c.close());
  return c;
}

/** A low-level gRPC client, to send what PogRPCClient never would. */
function rawClient(target: string): grpc.Client {
  const c = new grpc.Client(target, grpc.credentials.createSsl(Buffer.from(identity.certificatePem)), {
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.max_send_message_length': -1,
  });
  closers.push(() => c.close());
  return c;
}

/** Run one raw DeliverParcels call: write the given frames, half-close, and resolve with acks and status. */
function rawDelivery(
  c: grpc.Client,
  frames: Buffer[],
  metadata = new grpc.Metadata(),
  endCall = true,
): Promise<{ acks: Buffer[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const call = c.makeBidiStreamRequest<Buffer, Buffer>(
      METHOD,
      (b) => b,
      (b) => b,
      metadata,
    );
    const acks: Buffer[] = [];
    call.on('data', (ack) => acks.push(ack));
    call.on('error', () => undefined);
    call.on('status', (status) => resolve({ acks, status }));
    for (const frame of frames) call.write(frame);
    if (endCall) call.end();
  });
}

/** Protobuf ParcelDelivery { id = 1; parcel = 2 } encoded by hand (lengths < 128). */
function parcelDeliveryBytes(id: string, parcel: Buffer): Buffer {
  const idBytes = Buffer.from(id);
  return Buffer.concat([Buffer.from([0x0a, idBytes.length]), idBytes, Buffer.from([0x12, parcel.length]), parcel]);
}

describe('DeliverParcels', () => {
  it('passes the gateway return address and delivery id to the store; acks after it resolves', async () => {
    const seen: Array<{ parcel: string } & Omit<ParcelContext, 'signal'>> = [];
    const server = await startServer({
      onParcel: async (parcel, { deliveryId, gatewayAddress }) =>
        void seen.push({ parcel: parcel.toString(), deliveryId, gatewayAddress }),
    });

    const withGateway = await client(server.address, pinned, 'rne+grpc://127.0.0.1:21473').deliverParcels([
      { id: 'p1', parcel: Buffer.from('one') },
    ]);
    const withoutGateway = await client(server.address).deliverParcels([{ id: 'p2', parcel: Buffer.from('two') }]);

    expect(withGateway).toEqual({ acked: ['p1'], unacked: [] });
    expect(withoutGateway).toEqual({ acked: ['p2'], unacked: [] });
    expect(seen).toEqual([
      { parcel: 'one', deliveryId: 'p1', gatewayAddress: 'rne+grpc://127.0.0.1:21473' },
      { parcel: 'two', deliveryId: 'p2', gatewayAddress: null },
    ]);
  });

  it('refuses more than one gateway metadata value with INVALID_ARGUMENT', async () => {
    const onParcel = jest.fn(async () => undefined);
    const server = await startServer({ onParcel });
    const metadata = new grpc.Metadata();
    metadata.add('gateway', 'rne+grpc://a');
    metadata.add('gateway', 'rne+grpc://b');

    const { status, acks } = await rawDelivery(
      rawClient(server.address),
      [parcelDeliveryBytes('a', Buffer.from('x'))],
      metadata,
    );

    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toBe('At most one "gateway" metadata value is allowed; got 2');
    expect(acks).toEqual([]);
    expect(onParcel).not.toHaveBeenCalled();
  });

  it('refuses an overlong gateway address with INVALID_ARGUMENT', async () => {
    const server = await startServer();
    const metadata = new grpc.Metadata();
    metadata.add('gateway', 'x'.repeat(1025));
    const { status } = await rawDelivery(rawClient(server.address), [], metadata);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/"gateway" metadata must be 1\.\.1024 characters/);
  });

  it.each([
    ['invalid protobuf', [Buffer.from([0x0f, 0x00, 0x01])], grpc.status.INTERNAL, /Error deserializing request/],
    [
      'an empty delivery id',
      [parcelDeliveryBytes('', Buffer.from('x'))],
      grpc.status.INVALID_ARGUMENT,
      /Delivery id must be 1\.\.255 octets/,
    ],
    ['an empty parcel', [parcelDeliveryBytes('a', Buffer.alloc(0))], grpc.status.INVALID_ARGUMENT, /Parcel a is empty/],
    [
      'a duplicate delivery id in flight',
      [parcelDeliveryBytes('a', Buffer.from('x')), parcelDeliveryBytes('a', Buffer.from('y'))],
      grpc.status.INVALID_ARGUMENT,
      /Delivery id a is already in flight/,
    ],
  ])('ends the call on %s with a clear status, storing nothing', async (_name, frames, code, details) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stored: string[] = [];
    const logger = recordingLogger();
    const server = await startServer({
      logger,
      onParcel: async (parcel) => {
        await gate;
        stored.push(parcel.toString());
      },
    });

    const { status, acks } = await rawDelivery(rawClient(server.address), frames);
    release();

    expect(status.code).toBe(code);
    expect(status.details).toMatch(details);
    expect(acks).toEqual([]);
    // The server still serves other calls.
    expect((await client(server.address).deliverParcels([{ parcel: Buffer.from('ok') }])).acked).toHaveLength(1);
    if (code !== grpc.status.INTERNAL) {
      expect(logger.lines.some((l) => l.level === 'warn' && details.test(l.message))).toBe(true);
    }
  });

  it('refuses a gRPC message over the maximum size with RESOURCE_EXHAUSTED', async () => {
    const server = await startServer();
    const huge = Buffer.alloc(MAX_PARCEL_LENGTH + 2048, 1);
    const { status } = await rawDelivery(rawClient(server.address), [huge]);
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toMatch(/larger than max/);
  });

  it("a window's parcels are stored concurrently, each acked when its own store resolves (in any order)", async () => {
    const pending = new Map<string, () => void>();
    const server = await startServer({
      onParcel: (_parcel, { deliveryId }) => new Promise<void>((resolve) => pending.set(deliveryId, resolve)),
    });
    const parcels = ['a', 'b', 'c'].map((id) => ({ id, parcel: Buffer.from(id) }));
    const delivery = client(server.address).deliverParcels(parcels);
    // All three are being stored at once: none waited for the previous one.
    const deadline = Date.now() + 10_000;
    while (pending.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect([...pending.keys()].sort()).toEqual(['a', 'b', 'c']);
    for (const id of ['c', 'a', 'b']) pending.get(id)!();
    const report = await delivery;
    expect(report.unacked).toEqual([]);
    expect(report.acked).toEqual(['c', 'a', 'b']);
  });

  it('a store that fails is never acked: UNAVAILABLE, and the parcel is reported unacked', async () => {
    const server = await startServer({ onParcel: async () => Promise.reject(new Error('disk full')) });
    const report = await client(server.address).deliverParcels([{ id: 'p', parcel: Buffer.from('x') }]);
    expect(report.acked).toEqual([]);
    expect(report.unacked.map((u) => u.id)).toEqual(['p']);
    expect(report.error).toBeInstanceOf(PogRPCCallError);
    expect((report.error as PogRPCCallError).code).toBe(grpc.status.UNAVAILABLE);
    expect(report.error?.message).toMatch(/Could not store parcel p: disk full/);
  });

  it('a call that stalls (no parcel, no half-close) ends with DEADLINE_EXCEEDED after the idle timeout', async () => {
    const server = await startServer({ idleTimeoutMs: 300 });
    const started = Date.now();
    const { status, acks } = await rawDelivery(
      rawClient(server.address),
      [parcelDeliveryBytes('a', Buffer.from('x'))],
      undefined,
      false,
    );
    expect(acks).toHaveLength(1);
    expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(status.details).toMatch(/^Nothing received on the call for \d+ ms$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('caps the duration of a call', async () => {
    const server = await startServer({ callTimeoutMs: 200 });
    const { status } = await rawDelivery(rawClient(server.address), [], undefined, false);
    expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(status.details).toMatch(/exceeded the server's limit of 200 ms/);
  });
});

describe('CollectParcels', () => {
  it('is not offered on an external PDC: UNIMPLEMENTED with a clear message', async () => {
    const server = await startServer();
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = rawClient(server.address).makeBidiStreamRequest<Buffer, Buffer>(
        '/relaynet.pogrpc.PogRPC/CollectParcels',
        (b) => b,
        (b) => b,
        new grpc.Metadata(),
      );
      call.on('error', () => undefined);
      call.on('data', () => undefined);
      call.on('status', resolve);
    });
    expect(status.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(status.details).toMatch(/CollectParcels is not offered on an external parcel delivery connection/);
  });
});

describe('TLS', () => {
  it('generates the certificate on first start, keeps it in the state directory and reuses it', async () => {
    const stateDir = join(dir, 'state');
    const first = await startServer({ tls: { stateDir } });
    const certificatePem = first.certificatePem!;
    expect(new X509Certificate(certificatePem).checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect((await stat(join(stateDir, 'pogrpc-tls-key.pem'))).mode & 0o777).toBe(0o600);
    await first.close();
    servers.splice(servers.indexOf(first), 1);

    const second = await startServer({ tls: { stateDir } });
    expect(second.certificatePem).toBe(certificatePem);
    const report = await client(second.address, { pinnedCertificatePem: certificatePem }).deliverParcels([
      { parcel: Buffer.from('x') },
    ]);
    expect(report.acked).toHaveLength(1);
  });

  it('a client pinning another certificate refuses the server', async () => {
    const server = await startServer();
    const other = generateSelfSignedCertificate();
    const report = await client(server.address, { pinnedCertificatePem: other.certificatePem }).deliverParcels([
      { parcel: Buffer.from('x') },
    ]);
    expect(report.acked).toEqual([]);
    expect((report.error as PogRPCCallError).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('trusting a CA checks the host name against the SAN', async () => {
    const server = await startServer();
    const good = await client(`localhost:${server.port}`, { caPem: identity.certificatePem }).deliverParcels([
      { parcel: Buffer.from('x') },
    ]);
    expect(good.acked).toHaveLength(1);

    const named = generateSelfSignedCertificate({ hostnames: ['adapter.example'] });
    const namedServer = await startServer({ tls: named });
    const bad = await client(`localhost:${namedServer.port}`, { caPem: named.certificatePem }).deliverParcels([
      { parcel: Buffer.from('x') },
    ]);
    expect((bad.error as PogRPCCallError).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('a plaintext client cannot talk to the TLS server', async () => {
    const server = await startServer();
    const report = await client(server.address, { insecurePlaintextForTests: true }).deliverParcels([
      { parcel: Buffer.from('x') },
    ]);
    expect(report.error).toBeInstanceOf(PogRPCCallError);
  });

  it('plaintext mode says so in the log, on both sides', async () => {
    const serverLogger = recordingLogger();
    const clientLogger = recordingLogger();
    const server = await startServer({ tls: { insecurePlaintextForTests: true }, logger: serverLogger });
    const c = new PogRPCClient(server.address, { tls: { insecurePlaintextForTests: true }, logger: clientLogger });
    closers.push(() => c.close());
    expect((await c.deliverParcels([{ parcel: Buffer.from('x') }])).acked).toHaveLength(1);
    expect(serverLogger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: expect.stringMatching(/WITHOUT TLS/) }),
    );
    expect(clientLogger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: expect.stringMatching(/WITHOUT TLS/) }),
    );
  });
});

describe('Unix socket targets', () => {
  it('serves TLS over unix:///abs/path.sock, with an owner-only socket file', async () => {
    const path = join(dir, 'pogrpc.sock');
    const stored: string[] = [];
    const server = await startServer({
      address: `unix://${path}`,
      onParcel: async (p) => void stored.push(p.toString()),
    });

    expect(server.address).toBe(`unix://${path}`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const report = await client(`unix://${path}`).deliverParcels([{ parcel: Buffer.from('via unix') }]);
    expect(report.acked).toHaveLength(1);
    expect(stored).toEqual(['via unix']);
  });

  it('refuses a relative Unix socket path', async () => {
    await expect(startServer({ address: 'unix:relative.sock' })).rejects.toThrow(/must be absolute/);
  });
});

describe('a misbehaving server', () => {
  it('an ack for an unknown id ends the call with a protocol error; the parcel stays unacked', async () => {
    const fake = new grpc.Server();
    fake.addService(loadPogRPCService().service, {
      DeliverParcels: (call: grpc.ServerDuplexStream<{ id: string }, { id: string }>) => {
        call.on('data', () => call.write({ id: 'not-yours' }));
        call.on('error', () => undefined);
      },
      CollectParcels: () => undefined,
    });
    const port = await new Promise<number>((resolve, reject) =>
      fake.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    closers.push(() => fake.forceShutdown());

    const report = await client(`127.0.0.1:${port}`, { insecurePlaintextForTests: true }).deliverParcels([
      { id: 'mine', parcel: Buffer.from('x') },
    ]);

    expect(report.error).toBeInstanceOf(PogRPCProtocolError);
    expect(report.error?.message).toBe('Server acknowledged unknown delivery id "not-yours"');
    expect(report.unacked.map((u) => u.id)).toEqual(['mine']);
  });
});

describe('proto file', () => {
  it('resolves from the package root (same path from src/ and dist/)', () => {
    expect(POGRPC_PROTO_PATH).toBe(join(__dirname, '..', '..', '..', 'proto', 'pogrpc.proto'));
    const { service } = loadPogRPCService();
    expect(Object.values(service).map((m) => m.path)).toEqual([
      '/relaynet.pogrpc.PogRPC/DeliverParcels',
      '/relaynet.pogrpc.PogRPC/CollectParcels',
    ]);
  });
});
