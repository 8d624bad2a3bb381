/**
 * Interoperability with the reference implementation, @relaycorp/cogrpc 1.4.x: its client against our server
 * (backed by a real relaying gateway, with real cargo and CCAs from a real user gateway), and our client against
 * a server built on the reference's own service definition.
 */
import * as grpc from '@grpc/grpc-js';
import { CogRPCClient as ReferenceClient } from '@relaycorp/cogrpc';
import { CargoRelayService as referenceService } from '@relaycorp/cogrpc/build/main/lib/grpcService';

import { CogRPCClient, generateSelfSignedCertificate, GrpcCallError } from '@twitter-relaynet/cogrpc';

import { cargoFromUserGateway, queueParcelsForUser, startGatewayServer, type GatewayServer } from './cogrpcGateway';

const identity = generateSelfSignedCertificate();
/** Small enough that each parcel travels in its own cargo: more cargo than the window of 5. */
const ONE_PARCEL_PER_CARGO = 1_024;

async function collectAll<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function* deliveryRequests(cargo: readonly Buffer[]) {
  for (const [index, item] of cargo.entries()) yield { localId: `local-${index}`, cargo: item };
}

describe.each([
  ['initLan (TLS, self-signed certificate)', 'tls'],
  ['initLocalhost (plaintext)', 'plaintext'],
] as const)('reference client %s against our server', (_title, mode) => {
  let gateway: GatewayServer;
  let reference: ReferenceClient;

  beforeEach(async () => {
    gateway = await startGatewayServer(
      mode === 'tls' ? identity : { insecurePlaintextForTests: true },
      ONE_PARCEL_PER_CARGO,
    );
    const port = gateway.server.port!;
    reference =
      mode === 'tls' ? await ReferenceClient.initLan(`127.0.0.1:${port}`) : await ReferenceClient.initLocalhost(port);
  });

  afterEach(async () => {
    reference.close();
    await gateway.server.close();
  });

  test('deliverCargo: every cargo from a user gateway is stored by the relaying gateway and acknowledged', async () => {
    const cargo = await cargoFromUserGateway(gateway.world, 7);
    expect(cargo.length).toBe(7);

    const acked = await collectAll(reference.deliverCargo(deliveryRequests(cargo)));

    expect(acked.sort()).toEqual(cargo.map((_, index) => `local-${index}`).sort());
    expect(gateway.storedCargoIds).toHaveLength(7);
  });

  test('collectCargo with a real CCA: the cargo reaches the user gateway and the server ends the call', async () => {
    await queueParcelsForUser(gateway.world, 7);
    const cca = await gateway.world.user.generateCca();

    const collected = await collectAll(reference.collectCargo(cca));

    expect(collected).toHaveLength(7);
    let parcels = 0;
    for (const cargo of collected) parcels += (await gateway.world.user.receiveCargo(cargo)).parcelsStored;
    expect(parcels).toBe(7);
  });

  test('collectCargo with nothing to collect ends at once', async () => {
    expect(await collectAll(reference.collectCargo(await gateway.world.user.generateCca()))).toEqual([]);
  });

  test('a reused CCA is refused (PERMISSION_DENIED), logged, and the server keeps serving', async () => {
    const cca = await gateway.world.user.generateCca();
    await collectAll(reference.collectCargo(cca));

    await expect(collectAll(reference.collectCargo(cca))).rejects.toThrow(/PERMISSION_DENIED|7 /);
    expect(gateway.logger.find('warn', /CCA refused \(reused\)/)).toHaveLength(1);

    await queueParcelsForUser(gateway.world, 1);
    expect(await collectAll(reference.collectCargo(await gateway.world.user.generateCca()))).toHaveLength(1);
  });

  test('a malformed CCA is refused (UNAUTHENTICATED)', async () => {
    await expect(collectAll(reference.collectCargo(Buffer.from('not a CCA')))).rejects.toThrow(/UNAUTHENTICATED|16 /);
    expect(gateway.logger.find('warn', /CCA refused \(malformed\)/)).toHaveLength(1);
  });
});

describe('our client against a server built on the reference service definition (relaynet.cogrpc)', () => {
  let server: grpc.Server;
  let client: CogRPCClient;
  const received: Buffer[] = [];
  const authorizations: string[] = [];

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(referenceService, {
      deliverCargo: (call: grpc.ServerDuplexStream<{ id: string; cargo: Buffer }, { id: string }>) => {
        call.on('data', (delivery) => {
          received.push(delivery.cargo);
          call.write({ id: delivery.id });
        });
        call.on('end', () => call.end());
      },
      collectCargo: (call: grpc.ServerDuplexStream<{ id: string }, { id: string; cargo: Buffer }>) => {
        authorizations.push(String(call.metadata.get('authorization')[0]));
        const pending = new Set(['c1', 'c2']);
        for (const id of pending) call.write({ id, cargo: Buffer.from(`cargo ${id}`) });
        call.on('data', (ack) => {
          pending.delete(ack.id);
          if (pending.size === 0) call.end();
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = new CogRPCClient(`127.0.0.1:${port}`, { tls: { insecurePlaintextForTests: true }, dialect: 'relaynet' });
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  test('deliverCargo', async () => {
    const report = await client.deliverCargo([{ cargo: Buffer.from('one') }, { cargo: Buffer.from('two') }]);

    expect(report.error).toBeUndefined();
    expect(report.acked).toHaveLength(2);
    expect(received.map(String)).toEqual(['one', 'two']);
  });

  test('collectCargo sends Relaynet-CCA and acknowledges each cargo after storing it', async () => {
    const stored: string[] = [];
    const report = await client.collectCargo(Buffer.from('cca'), {
      onCargo: async (cargo) => void stored.push(String(cargo)),
    });

    expect(report).toEqual({ collected: 2 });
    expect(stored).toEqual(['cargo c1', 'cargo c2']);
    expect(authorizations).toEqual([`Relaynet-CCA ${Buffer.from('cca').toString('base64')}`]);
  });

  test('the awala dialect is refused by a relaynet-only server (UNIMPLEMENTED)', async () => {
    const awala = new CogRPCClient(client.target, { tls: { insecurePlaintextForTests: true } });
    try {
      const report = await awala.deliverCargo([{ cargo: Buffer.from('x') }]);
      expect((report.error as InstanceType<typeof GrpcCallError>).code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      awala.close();
    }
  });
});
