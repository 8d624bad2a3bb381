/**
 * Floods: the real daemons (bin/user-gateway, bin/relayer-gateway as child processes) and the
 * adapter's PublicEndpoint (in this process) take many concurrent bad connections on each of their
 * servers (garbage, half frames, oversized length prefixes, slowloris drips) while a good round trip
 * crosses them all: app → user gateway (PoWebSocket) → relay (both CoSocket servers) → adapter
 * (the endpoint's PogRPC server) → reply to the relaying gateway (its PogRPC server). The good
 * traffic gets through, both daemons stay alive, and their resident memory stays bounded.
 *
 * FLOOD_CONNECTIONS=<n> per server (default 60).
 */
import { randomBytes } from 'node:crypto';

import {
  isAlive,
  residentSetSize,
  startFlood,
  garbage,
  type Flood,
  type Misbehaviour,
} from '@twitter-relaynet/test-support';

import { buildExecutables, waitFor, World } from './world';

jest.setTimeout(120_000);

const CONNECTIONS = Number(process.env.FLOOD_CONNECTIONS ?? 60);
/** Generous: a daemon's whole baseline is ~100 MB; a leak per connection would show far above this. */
const MAX_RSS_GROWTH = 256 * 1024 * 1024;

function uint32le(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

/** CoSocket (RS-004): uint16 LE tags; Cargo Delivery = tag 0x01, varchar id, uint32 length, body. */
const cosocket: readonly Misbehaviour[] = [
  garbage,
  {
    name: 'oversized length',
    burst: () => Buffer.concat([Buffer.from([0x01, 0x00, 0x01, 0x61]), uint32le(0xffffffff)]),
  },
  // Announces 9 MB, sends 1 KiB, stalls: the server must not wait (or hold the memory) forever.
  {
    name: 'half frame',
    burst: () => Buffer.concat([Buffer.from([0x01, 0x00, 0x01, 0x61]), uint32le(9_000_000), randomBytes(1024)]),
  },
  {
    name: 'slowloris',
    burst: () => Buffer.from([0x01, 0x00]),
    drip: () => Buffer.concat([Buffer.from([0x01, 0x61]), uint32le(1000), randomBytes(1000)]),
  },
];

const upgrade = Buffer.from(
  'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
);

/** PoWebSocket: HTTP upgrade over a Unix socket, then masked WebSocket frames. */
const powebsocket: readonly Misbehaviour[] = [
  garbage,
  // A binary frame announcing 2^40 octets (64-bit length), masked as clients must.
  {
    name: 'oversized frame',
    burst: () => Buffer.concat([upgrade, Buffer.from([0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0]), randomBytes(4)]),
  },
  // A frame announcing 1 MiB (under the limit), 100 octets of it, then nothing.
  {
    name: 'half frame',
    burst: () =>
      Buffer.concat([upgrade, Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0]), randomBytes(4), randomBytes(100)]),
  },
  { name: 'slowloris upgrade', burst: () => upgrade.subarray(0, 10), drip: () => upgrade.subarray(10) },
];

/** PogRPC over TLS: raw TCP (TLS records) and, after a TLS handshake, HTTP/2 frames. */
const tlsRecordHeader = (length: number) => Buffer.from([0x16, 0x03, 0x01, length >> 8, length & 0xff]);
const pogrpcTcp: readonly Misbehaviour[] = [
  garbage,
  { name: 'oversized TLS record', burst: () => tlsRecordHeader(0xffff) },
  { name: 'half TLS record', burst: () => Buffer.concat([tlsRecordHeader(512), randomBytes(100)]) },
  { name: 'slowloris', burst: () => tlsRecordHeader(300), drip: () => randomBytes(300) },
];
const h2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const pogrpcTls: readonly Misbehaviour[] = [
  { name: 'h2 garbage', burst: () => Buffer.concat([h2Preface, randomBytes(2048)]) },
  // A DATA frame header announcing 16 MiB - 1 on stream 1 (beyond the default max frame size).
  {
    name: 'h2 oversized frame',
    burst: () => Buffer.concat([h2Preface, Buffer.from([0xff, 0xff, 0xff, 0x00, 0x00, 0, 0, 0, 1])]),
  },
  { name: 'h2 half preface', burst: () => h2Preface.subarray(0, 12) },
];

let world: World;

beforeAll(async () => {
  buildExecutables();
  world = new World();
  await world.start();
}, 120_000);

afterAll(async () => {
  await world?.close();
});

test(`${CONNECTIONS} bad connections per server: the good round trip gets through, no daemon dies, memory stays bounded`, async () => {
  const alice = await world.openAppKnownToAdapter('alice');

  const pids = { user: world.userGateway.pid!, relayer: world.relayer.pid! };
  const before = { user: residentSetSize(pids.user), relayer: residentSetSize(pids.relayer) };

  const relayerPogrpc = world.pogrpcTarget('relayer-gateway');
  const adapterPogrpc = world.pogrpcTarget('twitter-api-adapter');
  const floods: Record<string, Flood> = {
    'user-gateway PoWebSocket': startFlood(
      { path: world.path('user-gateway', 'powebsocket.sock') },
      CONNECTIONS,
      powebsocket,
    ),
    'user-gateway CoSocket': startFlood({ path: world.path('user-gateway', 'cosocket.sock') }, CONNECTIONS, cosocket),
    'relayer-gateway CoSocket': startFlood(
      { path: world.path('relayer-gateway', 'cosocket.sock') },
      CONNECTIONS,
      cosocket,
    ),
    'relayer-gateway PogRPC (TCP)': startFlood(relayerPogrpc, CONNECTIONS / 2, pogrpcTcp),
    'relayer-gateway PogRPC (TLS)': startFlood({ ...relayerPogrpc, tls: true }, CONNECTIONS / 2, pogrpcTls),
    'adapter PogRPC (TCP)': startFlood(adapterPogrpc, CONNECTIONS / 2, pogrpcTcp),
    'adapter PogRPC (TLS)': startFlood({ ...adapterPogrpc, tls: true }, CONNECTIONS / 2, pogrpcTls),
  };
  try {
    await waitFor('the flood connections to be established', () =>
      Object.values(floods).every((flood) => flood.stats().opened + flood.stats().failed > 0),
    );

    // The good traffic, across every server under flood.
    const inboxBefore = world.adapterInbox.messages.length;
    await alice.send('alice: under flood'); // PoWebSocket at the user gateway
    const atUser = await world.courier.run('user'); // CoSocket at the user gateway
    expect({ status: atUser.status, stderr: atUser.stderr }).toMatchObject({ status: 0 });
    const atRelayer = await world.courier.run('relayer'); // CoSocket at the relaying gateway
    expect({ status: atRelayer.status, stderr: atRelayer.stderr }).toMatchObject({ status: 0 });
    await waitFor('the adapter to receive the message (its PogRPC server)', () =>
      world.adapterInbox.contents().slice(inboxBefore).includes('alice: under flood'),
    );
    const reply = await world.reply(alice.app.id, 'to alice: under flood');
    await world.waitUntilQueuedAtRelayer([reply]); // the relaying gateway's PogRPC server

    // Garbage and oversized prefixes are refused at once (a quarter to a half of each flood); half
    // frames and drips wait for the idle and handshake timeouts (10-20 s), beyond this test.
    await waitFor('the servers to drop the garbage connections', () =>
      Object.values(floods).every((flood) => flood.stats().closedByServer >= Math.floor(flood.stats().opened / 4)),
    );

    expect(isAlive(pids.user)).toBe(true);
    expect(isAlive(pids.relayer)).toBe(true);
    const after = { user: residentSetSize(pids.user), relayer: residentSetSize(pids.relayer) };
    const stats = Object.fromEntries(Object.entries(floods).map(([name, flood]) => [name, flood.stats()]));
    process.stdout.write(
      `flood: ${JSON.stringify({ connectionsPerServer: CONNECTIONS, rssBefore: before, rssAfter: after, stats })}\n`,
    );
    expect(after.user - before.user).toBeLessThan(MAX_RSS_GROWTH);
    expect(after.relayer - before.relayer).toBeLessThan(MAX_RSS_GROWTH);
  } finally {
    await Promise.all(Object.values(floods).map((flood) => flood.stop()));
  }
  // Still serving once the flood is over.
  expect(world.userGateway.running && world.relayer.running).toBe(true);
  const again = await world.courier.run('user');
  expect(again.status === 0 || again.status === 3).toBe(true);
});
