/**
 * The relaying gateway's CCA refusals as CogRPC answers them (toCogRPCRefusal): the courier's client gets the gRPC
 * status the reason maps to, and the server logs the reason.
 */
import * as grpc from '@grpc/grpc-js';
import { CogRPCClient, generateSelfSignedCertificate, type GrpcCallError } from '@twitter-relaynet/cogrpc';

import { queueParcelsForUser, startGatewayServer, type GatewayServer } from './cogrpcGateway';

const identity = generateSelfSignedCertificate();

function statusOf(error: unknown): string {
  return grpc.status[(error as InstanceType<typeof GrpcCallError>).code];
}

describe('CogRPC in front of a relaying gateway', () => {
  let gateway: GatewayServer;
  let client: CogRPCClient;

  beforeAll(async () => {
    gateway = await startGatewayServer(identity);
    client = new CogRPCClient(gateway.server.address, { tls: { pinnedCertificatePem: identity.certificatePem } });
  });

  afterAll(async () => {
    client.close();
    await gateway.server.close();
  });

  test('an expired CCA is refused with UNAUTHENTICATED', async () => {
    await queueParcelsForUser(gateway.world, 1);
    const cca = await gateway.world.user.generateCca();
    gateway.world.clock.advance(365 * 86_400_000);
    try {
      const report = await client.collectCargo(cca, { onCargo: async () => undefined });
      expect(statusOf(report.error)).toBe('UNAUTHENTICATED');
      expect(gateway.logger.find('warn', /CCA refused \(expired\)/)).toHaveLength(1);
    } finally {
      gateway.world.clock.advance(-365 * 86_400_000);
    }
  });
});
