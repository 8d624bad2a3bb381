/**
 * The CogRPC client shares the PogRPC client's idle rule (pogrpc/src/outbound.ts): a DeliverCargo call on which
 * no octet moves either way for `idleTimeoutMs` is cancelled, long before the 10-minute cap. The slow-link side
 * (a call that moves is never cut) is covered by the conformance suite's slow-link tests.
 */
import { performance } from 'node:perf_hooks';

import * as grpc from '@grpc/grpc-js';

import { CogRPCClient, createCogRPCServer, generateSelfSignedCertificate, GrpcCallError, type CogRPCServer } from '../src';

const IDLE_MS = 1_000;
const identity = generateSelfSignedCertificate();
let server: CogRPCServer;
let storing = 0;

beforeAll(async () => {
  server = await createCogRPCServer({
    address: '127.0.0.1:0',
    tls: identity,
    idleTimeoutMs: IDLE_MS,
    // Never resolves: the server pauses its own idle rule while storing, keeps pinging, and never acks.
    storeCargo: () => {
      storing++;
      return new Promise<void>(() => undefined);
    },
    collectCargo: async () => [],
  });
});

afterAll(async () => {
  await server?.close();
});

test('a server that takes a cargo and never acks it is dropped after about the idle period; the cargo is reported unacked', async () => {
  const client = new CogRPCClient(server.address, { tls: { pinnedCertificatePem: identity.certificatePem }, idleTimeoutMs: IDLE_MS });
  try {
    const started = performance.now();
    const report = await client.deliverCargo([{ id: 'unacked', cargo: Buffer.alloc(64 * 1024, 5) }]);

    expect(storing).toBe(1);
    expect(report.error).toBeInstanceOf(GrpcCallError);
    expect((report.error as GrpcCallError).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(report.error?.message).toMatch(/^DeliverCargo idle: no octet moved on the call/);
    expect(report.unacked.map((u) => u.id)).toEqual(['unacked']);
    expect(performance.now() - started).toBeLessThan(IDLE_MS * 4);
  } finally {
    client.close();
  }
}, 30_000);
