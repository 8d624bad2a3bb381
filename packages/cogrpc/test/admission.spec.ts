/**
 * The CogRPC server shares the PogRPC server's connection admission (pogrpc/src/admission.ts): at the cap a
 * newcomer replaces the quietest connection that has not started a call, and a connection that started a
 * CogRPC call keeps its slot. The flood figures are in pogrpc's starvation.flood.spec.ts; this checks that
 * CogRPC calls count as calls.
 */
import { MemoryLogger } from '@twitter-relaynet/core';

import { closedByServer, openConnection, startOpenCall, waitFor } from '@twitter-relaynet/test-support';
import { CogRPCClient, createCogRPCServer, type CogRPCServer } from '../src';

const logger = new MemoryLogger();
let server: CogRPCServer;
const stored: string[] = [];

beforeAll(async () => {
  server = await createCogRPCServer({
    address: '127.0.0.1:0',
    tls: { insecurePlaintextForTests: true },
    maxConnections: 2,
    logger,
    storeCargo: async (cargo) => void stored.push(String(cargo)),
    collectCargo: async () => [],
  });
});

afterAll(async () => {
  await server?.close();
});

const open = openConnection;
const startCall = (port: number) => startOpenCall(port, '/awala.cogrpc.CargoRelay/DeliverCargo');

test('at the cap, a silent connection makes room for a courier, whose cargo is delivered', async () => {
  const silent = [await open(server.port!), await open(server.port!)];
  const firstClosed = closedByServer(silent[0]);
  const client = new CogRPCClient(server.address, { tls: { insecurePlaintextForTests: true } });
  try {
    const report = await client.deliverCargo([{ id: 'c1', cargo: Buffer.from('cargo 1') }]);
    expect(report.acked).toEqual(['c1']);
    expect(stored).toContain('cargo 1');
    await firstClosed;
  } finally {
    client.close();
    for (const socket of silent) socket.destroy();
  }
  await waitFor('the shed connection to be logged', () => logger.find('warn', /^CogRPC connections shed/).length > 0);
});

test('connections that started a CogRPC call keep their slots: at the cap a newcomer is refused', async () => {
  const calls = [startCall(server.port!), startCall(server.port!)];
  try {
    await waitFor('the two calls to start', () => server.activeCalls === 2);
    expect(await closedByServer(await open(server.port!))).toBe(0);
    expect(calls.every((session) => !session.destroyed && !session.closed)).toBe(true);
  } finally {
    for (const session of calls) session.destroy();
  }
});
