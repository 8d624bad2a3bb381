import * as grpc from '@grpc/grpc-js';
import { MemoryLogger } from '@twitter-relaynet/core';

import {
  CcaRefusedError,
  CogRPCClient,
  createCogRPCServer,
  generateSelfSignedCertificate,
  GrpcCallError,
  loadCogRPCService,
  type CollectableCargo,
  type CogRPCDialect,
  type CogRPCServer,
  type CogRPCServerOptions,
} from '../src';

const identity = generateSelfSignedCertificate();

/** Cargo handed out by a test server, recording which the client acknowledged. */
function outbox(count: number, acknowledged: string[]): CollectableCargo[] {
  return Array.from({ length: count }, (_, index) => ({
    cargo: Buffer.from(`cargo ${index}`),
    acknowledged: async () => void acknowledged.push(`cargo ${index}`),
  }));
}

function statusOf(error: unknown): string {
  return grpc.status[(error as InstanceType<typeof GrpcCallError>).code];
}

describe('CogRPC server and client', () => {
  let server: CogRPCServer;
  let logger: MemoryLogger;
  const clients: CogRPCClient[] = [];
  let collect: CogRPCServerOptions['collectCargo'];
  const stored: string[] = [];

  beforeEach(async () => {
    logger = new MemoryLogger();
    stored.length = 0;
    collect = async () => [];
    server = await createCogRPCServer({
      address: '127.0.0.1:0',
      tls: identity,
      logger,
      storeCargo: async (cargo) => void stored.push(String(cargo)),
      collectCargo: (cca, context) => collect(cca, context),
    });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.close();
  });

  function connect(dialect?: CogRPCDialect): CogRPCClient {
    const client = new CogRPCClient(server.address, {
      tls: { pinnedCertificatePem: identity.certificatePem },
      dialect,
    });
    clients.push(client);
    return client;
  }

  test.each(['awala', 'relaynet'] as const)('%s dialect: deliver, then collect with the CCA', async (dialect) => {
    const acknowledged: string[] = [];
    const ccas: string[] = [];
    collect = async (cca) => {
      ccas.push(String(cca));
      return outbox(12, acknowledged);
    };
    const client = connect(dialect);

    const delivery = await client.deliverCargo(
      Array.from({ length: 12 }, (_, i) => ({ cargo: Buffer.from(`in ${i}`) })),
    );
    const collected: string[] = [];
    const collection = await client.collectCargo(Buffer.from('the cca'), {
      onCargo: async (cargo) => void collected.push(String(cargo)),
    });

    expect(delivery.error).toBeUndefined();
    expect(delivery.acked).toHaveLength(12);
    expect(stored).toEqual(Array.from({ length: 12 }, (_, i) => `in ${i}`));
    expect(collection).toEqual({ collected: 12 });
    expect(collected).toEqual(acknowledged);
    expect(ccas).toEqual(['the cca']);
  });

  test('at most 5 cargo are unacknowledged on CollectCargo; only acknowledged cargo is reported to the gateway', async () => {
    const acknowledged: string[] = [];
    collect = async () => outbox(8, acknowledged);
    const { Client } = loadCogRPCService('awala');
    const raw = new Client(server.address, grpc.credentials.createSsl(Buffer.from(identity.certificatePem)), {
      'grpc.ssl_target_name_override': 'localhost',
    });
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Awala-CCA ${Buffer.from('cca').toString('base64')}`);
    const call = (
      raw as unknown as {
        CollectCargo(m: grpc.Metadata): grpc.ClientDuplexStream<{ id: string }, { id: string; cargo: Buffer }>;
      }
    ).CollectCargo(metadata);
    const received: Array<{ id: string; cargo: Buffer }> = [];
    let onReceived: () => void = () => undefined;
    call.on('data', (delivery) => {
      received.push(delivery);
      onReceived();
    });
    const waitForCount = (count: number) =>
      new Promise<void>((resolve) => {
        onReceived = () => received.length >= count && resolve();
        onReceived();
      });
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));

    await waitForCount(5);
    // The server waits for an ack before sending a sixth: a round trip of a call proves nothing more is coming.
    await connect().deliverCargo([{ cargo: Buffer.from('probe') }]);
    expect(received).toHaveLength(5);
    expect(acknowledged).toEqual([]);

    call.write({ id: received[0].id });
    await waitForCount(6);
    for (const delivery of received.slice(1)) call.write({ id: delivery.id });
    await waitForCount(8);
    for (const delivery of received.slice(6)) call.write({ id: delivery.id });

    expect((await ended).code).toBe(grpc.status.OK);
    expect(acknowledged.sort()).toEqual(received.map((d) => String(d.cargo)).sort());
    raw.close();
  });

  test('a client that fails to store a cargo does not acknowledge it', async () => {
    const acknowledged: string[] = [];
    collect = async () => outbox(3, acknowledged);

    const report = await connect().collectCargo(Buffer.from('cca'), {
      onCargo: async (cargo) => {
        if (String(cargo) === 'cargo 1') throw new Error('disk full');
      },
    });

    expect(report.collected).toBe(1);
    expect((report.error as Error).message).toBe('disk full');
    expect(acknowledged).toEqual(['cargo 0']);
  });

  test.each([
    ['missing', null, 'UNAUTHENTICATED', /Authorization metadata is missing/],
    ['another scheme', 'Bearer abc', 'UNAUTHENTICATED', /must be "Awala-CCA <base64>"/],
    ['not base64', 'Awala-CCA ***', 'UNAUTHENTICATED', /must be "Awala-CCA <base64>"/],
  ])('Authorization %s: refused (%s) and logged', async (_title, authorization, status, logLine) => {
    const { Client } = loadCogRPCService('relaynet');
    const raw = new Client(server.address, grpc.credentials.createSsl(Buffer.from(identity.certificatePem)), {
      'grpc.ssl_target_name_override': 'localhost',
    });
    const metadata = new grpc.Metadata();
    if (authorization) metadata.set('authorization', authorization);
    const call = (
      raw as unknown as { CollectCargo(m: grpc.Metadata): grpc.ClientDuplexStream<unknown, unknown> }
    ).CollectCargo(metadata);
    call.on('error', () => undefined);
    const ended = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    raw.close();

    expect(grpc.status[ended.code]).toBe(status);
    expect(logger.find('warn', logLine)).toHaveLength(1);
  });

  test.each([
    ['malformed', 'UNAUTHENTICATED'],
    ['invalid', 'UNAUTHENTICATED'],
    ['expired', 'UNAUTHENTICATED'],
    ['unknown', 'UNAUTHENTICATED'],
    ['reused', 'PERMISSION_DENIED'],
  ] as const)('a CCA refused as %s ends the call with %s, and the server keeps serving', async (reason, status) => {
    collect = async () => {
      throw new CcaRefusedError(reason, 'no');
    };
    const client = connect();

    const report = await client.collectCargo(Buffer.from('cca'), { onCargo: async () => undefined });

    expect(statusOf(report.error)).toBe(status);
    expect(logger.find('warn', new RegExp(`CCA refused \\(${reason}\\)`))).toHaveLength(1);
    expect((await client.deliverCargo([{ cargo: Buffer.from('still here') }])).acked).toHaveLength(1);
  });

  test('a CCA check that fails for another reason answers UNAVAILABLE (retry later)', async () => {
    collect = async () => {
      throw new Error('database locked');
    };

    const report = await connect().collectCargo(Buffer.from('cca'), { onCargo: async () => undefined });

    expect(statusOf(report.error)).toBe('UNAVAILABLE');
    expect(logger.find('error', /Could not check the CCA: database locked/)).toHaveLength(1);
  });

  test('an acknowledgement of an unknown delivery id ends the call with INVALID_ARGUMENT', async () => {
    collect = async () => outbox(1, []);
    const { Client } = loadCogRPCService('awala');
    const raw = new Client(server.address, grpc.credentials.createSsl(Buffer.from(identity.certificatePem)), {
      'grpc.ssl_target_name_override': 'localhost',
    });
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Awala-CCA ${Buffer.from('cca').toString('base64')}`);
    const call = (
      raw as unknown as { CollectCargo(m: grpc.Metadata): grpc.ClientDuplexStream<{ id: string }, unknown> }
    ).CollectCargo(metadata);
    call.on('error', () => undefined);
    call.once('data', () => call.write({ id: 'made-up' }));
    const ended = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    raw.close();

    expect(ended.code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});
