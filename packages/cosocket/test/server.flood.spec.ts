/**
 * A CoSocket server under a flood of bad connections (garbage, oversized length prefixes, half
 * frames, slowloris drips) keeps serving a good relayer, drops the garbage at once and the stalled
 * connections at its idle timeout, and releases the memory their partial frames held.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { garbage, startFlood, type Misbehaviour, waitFor } from '@twitter-relaynet/test-support';

import { CoSocketClient, createCoSocketServer, type CoSocketServer } from '../src';
import { makeTempDir } from './helpers';

const CONNECTIONS = 100;
const IDLE_TIMEOUT_MS = 500;

function uint32le(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

const behaviours: readonly Misbehaviour[] = [
  garbage,
  {
    name: 'oversized length',
    burst: () => Buffer.concat([Buffer.from([0x01, 0x00, 0x01, 0x61]), uint32le(0xffffffff)]),
  },
  {
    name: 'half frame',
    burst: () => Buffer.concat([Buffer.from([0x01, 0x00, 0x01, 0x61]), uint32le(1_000_000), randomBytes(64 * 1024)]),
  },
  // One octet every 200 ms of a 1000-octet body: slower than any real relayer, but never silent for the idle timeout.
  {
    name: 'slowloris',
    burst: () => Buffer.concat([Buffer.from([0x01, 0x00, 0x01, 0x61]), uint32le(1000)]),
    drip: () => randomBytes(1000),
  },
];

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let server: CoSocketServer;
const stored: string[] = [];

beforeAll(async () => {
  temp = await makeTempDir();
  server = await createCoSocketServer({
    socketPath: join(temp.dir, 'cosocket.sock'),
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    // The drips keep a connection busy but slow; the overall timeout bounds how long it may last.
    connectionTimeoutMs: 3_000,
    onCargoDelivered: async (cargo) => void stored.push(cargo.toString()),
  });
});

afterAll(async () => {
  await server?.close();
  await temp?.cleanup();
});

test(`${CONNECTIONS} bad connections: a good relayer is served, and every bad connection is closed by the server`, async () => {
  const flood = startFlood({ path: server.address as string }, CONNECTIONS, behaviours);
  try {
    await waitFor('the flood to be connected', () => flood.stats().opened === CONNECTIONS);
    const client = await CoSocketClient.connect(server.address as string);
    try {
      const report = await client.deliverCargo([{ id: 'good', cargo: Buffer.from('good cargo') }]);
      expect(report.acked).toEqual(['good']);
    } finally {
      await client.close();
    }
    expect(stored).toEqual(['good cargo']);
    // Garbage and oversized prefixes at once, half frames at the idle timeout, drips at the connection timeout.
    await waitFor('the server to close every bad connection', () => flood.stats().closedByServer === CONNECTIONS);
    await waitFor('the server to forget them', () => server.connectionCount === 0);
    expect(server.bufferedBytes()).toBe(0);
  } finally {
    await flood.stop();
  }
});
