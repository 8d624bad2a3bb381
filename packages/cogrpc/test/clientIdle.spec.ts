/**
 * The CogRPC client shares the PogRPC client's idle rule (pogrpc/src/outbound.ts): a DeliverCargo call on which
 * no octet moves either way for `idleTimeoutMs` is cancelled, long before the 10-minute cap; a CollectCargo call on
 * which the server sends nothing for that long while we hold nothing unacknowledged ends the same way. The slow-link
 * side (a call that moves is never cut) is covered by the conformance suite's slow-link tests.
 */
import { performance } from 'node:perf_hooks';

import * as grpc from '@grpc/grpc-js';

import {
  CogRPCClient,
  createCogRPCServer,
  generateSelfSignedCertificate,
  GrpcCallError,
  type CogRPCServer,
} from '../src';

const IDLE_MS = 1_000;
const identity = generateSelfSignedCertificate();
let server: CogRPCServer;
let storing = 0;
let collections = 0;

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
    // A collection that never hands anything out nor ends: the server sends no octet on the call.
    collectCargo: async (_cca, { signal }) => {
      collections++;
      // eslint-disable-next-line require-yield -- it never yields: that is the point
      return (async function* () {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      })();
    },
  });
});

afterAll(async () => {
  await server?.close();
});

test('a server that takes a cargo and never acks it is dropped after about the idle period; the cargo is reported unacked', async () => {
  const client = new CogRPCClient(server.address, {
    tls: { pinnedCertificatePem: identity.certificatePem },
    idleTimeoutMs: IDLE_MS,
  });
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

test('a server that hands out nothing and never ends the collection is dropped after about the idle period', async () => {
  const client = new CogRPCClient(server.address, {
    tls: { pinnedCertificatePem: identity.certificatePem },
    idleTimeoutMs: IDLE_MS,
  });
  try {
    const started = performance.now();
    const report = await client.collectCargo(Buffer.from('a CCA'), { onCargo: async () => undefined });

    expect(collections).toBe(1);
    expect(report.collected).toBe(0);
    expect(report.error).toBeInstanceOf(GrpcCallError);
    expect((report.error as GrpcCallError).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(report.error?.message).toMatch(/^CollectCargo idle: no octet came from the server for \d+ ms/);
    expect(performance.now() - started).toBeLessThan(IDLE_MS * 4);
  } finally {
    client.close();
  }
}, 30_000);
