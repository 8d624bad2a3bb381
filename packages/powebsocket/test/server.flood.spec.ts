/**
 * A PoWebSocket server under a flood of bad connections (garbage instead of HTTP, oversized and half
 * WebSocket frames, an upgrade request dripped one octet at a time) keeps serving a good endpoint,
 * and closes every bad connection itself: at once, or at its handshake timeout.
 */
import { randomBytes } from 'node:crypto';

import { garbage, startFlood, type Misbehaviour, waitFor } from '@twitter-relaynet/test-support';

import { PoWebSocketConnection, PoWebSocketServer } from '../src';
import { capturingLogger, tempSocketPath, TestIdentity, testSigner, testVerifier } from './helpers';

const CONNECTIONS = 100;
const HANDSHAKE_TIMEOUT_MS = 1_000;

const upgrade = Buffer.from(
  'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
);

const behaviours: readonly Misbehaviour[] = [
  garbage,
  // 2^40 octets announced (64-bit length), masked like every client frame.
  {
    name: 'oversized frame',
    burst: () => Buffer.concat([upgrade, Buffer.from([0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0]), randomBytes(4)]),
  },
  // 1 MiB announced, 100 octets sent, then silence: the handshake never completes.
  {
    name: 'half frame',
    burst: () => Buffer.concat([upgrade, Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0]), randomBytes(104)]),
  },
  { name: 'slowloris upgrade', burst: () => upgrade.subarray(0, 10), drip: () => upgrade.subarray(10) },
];

const alice = new TestIdentity();
let server: PoWebSocketServer;
let cleanup: () => void;
const stored: Buffer[] = [];

beforeAll(async () => {
  const temp = tempSocketPath();
  cleanup = temp.cleanup;
  server = await PoWebSocketServer.listen({
    socketPath: temp.socketPath,
    verify: testVerifier([alice]),
    onParcelDelivered: async (parcel) => void stored.push(parcel),
    parcelSource: async function* () {},
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    logger: capturingLogger(),
  });
});

afterAll(async () => {
  await server?.close();
  cleanup?.();
});

test(`${CONNECTIONS} bad connections: a good endpoint is served, and every bad connection is closed by the server`, async () => {
  const flood = startFlood({ path: server.socketPath }, CONNECTIONS, behaviours);
  try {
    await waitFor('the flood to be connected', () => flood.stats().opened === CONNECTIONS);
    const connection = await PoWebSocketConnection.connect({
      socketPath: server.socketPath,
      sign: testSigner([{ identity: alice, index: 0 }]),
      logger: capturingLogger(),
    });
    try {
      await connection.deliverParcel(Buffer.from('a good parcel'));
    } finally {
      await connection.close();
    }
    expect(stored.map(String)).toEqual(['a good parcel']);
    await waitFor('the server to close every bad connection', () => flood.stats().closedByServer === CONNECTIONS);
    await waitFor('the server to forget them', () => server.connectionCount === 0);
  } finally {
    await flood.stop();
  }
});
