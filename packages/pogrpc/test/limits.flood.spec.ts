/**
 * The PogRPC server's caps against connection and stream floods: the concurrent streams it
 * advertises per connection; the connections it holds at once (at the cap a newcomer replaces the
 * quietest connection without a call; only calls are never displaced); the time a connection has to
 * start a call; and a TLS server under a flood of bad connections, which keeps serving a good client
 * and closes every bad connection itself. The flood of silent connections that come back is in
 * starvation.flood.spec.ts.
 */
import * as http2 from 'node:http2';

import { randomBytes } from 'node:crypto';

import { garbage, startFlood, type Misbehaviour } from '@twitter-relaynet/test-support';

import {
  createPogRPCServer,
  generateSelfSignedCertificate,
  MAX_CONCURRENT_STREAMS,
  PogRPCClient,
  type PogRPCServer,
} from '../src';
import { closedByServer, openConnection, startOpenCall, waitFor } from '@twitter-relaynet/test-support';

let server: PogRPCServer;
const stored: string[] = [];

beforeAll(async () => {
  server = await createPogRPCServer({
    address: '127.0.0.1:0',
    tls: { insecurePlaintextForTests: true },
    maxConnections: 3,
    onParcel: async (_parcel, { deliveryId }) => void stored.push(deliveryId),
  });
});

afterAll(async () => {
  await server?.close();
});

test(`each connection may open at most ${MAX_CONCURRENT_STREAMS} streams at once`, async () => {
  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  try {
    const settings = await new Promise<http2.Settings>((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    expect(settings.maxConcurrentStreams).toBe(MAX_CONCURRENT_STREAMS);
  } finally {
    session.destroy();
  }
});

const open = openConnection;
const startCall = (port: number) => startOpenCall(port, '/relaynet.pogrpc.PogRPC/DeliverParcels');

test('at the cap, a new connection takes the slot of the quietest one that has not started a call', async () => {
  const silent = [await open(server.port!), await open(server.port!), await open(server.port!)];
  const firstClosed = closedByServer(silent[0]);
  const newcomer = await open(server.port!);
  try {
    await firstClosed;
    expect(silent[1].destroyed || silent[2].destroyed).toBe(false);
    // The newcomer is served: the plaintext HTTP/2 server greets it with its SETTINGS.
    await new Promise<void>((resolve) => newcomer.once('data', () => resolve()));
  } finally {
    for (const socket of [...silent, newcomer]) socket.destroy();
  }
});

test('when every slot is held by a call, a new connection is closed at once without a byte; a good client is served once they are gone', async () => {
  const calls = [startCall(server.port!), startCall(server.port!), startCall(server.port!)];
  try {
    await waitFor('the three calls to start', () => server.activeCalls === 3);
    expect(await closedByServer(await open(server.port!))).toBe(0);
  } finally {
    for (const session of calls) session.destroy();
  }
  const client = new PogRPCClient(server.address, { tls: { insecurePlaintextForTests: true } });
  try {
    // The server learns of the closed connections asynchronously: retry until it has room again.
    let acked: readonly string[] = [];
    for (let attempt = 0; attempt < 50 && acked.length === 0; attempt++) {
      acked = (await client.deliverParcels([{ id: `good-${attempt}`, parcel: Buffer.from('good') }])).acked;
      if (acked.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(acked).toHaveLength(1);
    expect(stored).toContain(acked[0]);
  } finally {
    client.close();
  }
});

test('a connection that does not start a call within the handshake timeout is closed, even if it keeps sending octets', async () => {
  const handshakeTimeoutMs = 300;
  const strict = await createPogRPCServer({
    address: '127.0.0.1:0',
    tls: { insecurePlaintextForTests: true },
    handshakeTimeoutMs,
    onParcel: async () => undefined,
  });
  const dripper = await open(strict.port!);
  // The first octets of the HTTP/2 preface, one every 50 ms: never silent long enough for the idle check.
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  let sent = 0;
  const drip = setInterval(() => sent < preface.length && dripper.write(preface.subarray(sent, ++sent)), 50);
  try {
    const started = Date.now();
    await closedByServer(dripper);
    expect(Date.now() - started).toBeGreaterThanOrEqual(handshakeTimeoutMs - 50);
    expect(sent).toBeLessThan(preface.length);
  } finally {
    clearInterval(drip);
    dripper.destroy();
    await strict.close();
  }
});

describe('a TLS server under a flood of bad connections', () => {
  const CONNECTIONS = 100;
  const identity = generateSelfSignedCertificate();
  let tlsServer: PogRPCServer;

  beforeAll(async () => {
    tlsServer = await createPogRPCServer({
      address: '127.0.0.1:0',
      tls: identity,
      idleTimeoutMs: 500,
      onParcel: async (_parcel, { deliveryId }) => void stored.push(deliveryId),
    });
  });

  afterAll(async () => {
    await tlsServer?.close();
  });

  const tlsRecordHeader = (length: number) => Buffer.from([0x16, 0x03, 0x01, length >> 8, length & 0xff]);
  const h2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  const tcp: readonly Misbehaviour[] = [
    garbage,
    { name: 'oversized TLS record', burst: () => tlsRecordHeader(0xffff) },
    { name: 'half TLS record', burst: () => Buffer.concat([tlsRecordHeader(512), randomBytes(100)]) },
  ];
  const overTls: readonly Misbehaviour[] = [
    { name: 'h2 garbage', burst: () => Buffer.concat([h2Preface, randomBytes(2048)]) },
    {
      name: 'h2 oversized frame',
      burst: () => Buffer.concat([h2Preface, Buffer.from([0xff, 0xff, 0xff, 0x00, 0x00, 0, 0, 0, 1])]),
    },
    { name: 'h2 half preface', burst: () => h2Preface.subarray(0, 12) },
  ];

  test(`${CONNECTIONS} bad connections: a good client is served, and every bad connection is closed by the server`, async () => {
    const floods = [
      startFlood({ host: '127.0.0.1', port: tlsServer.port! }, CONNECTIONS / 2, tcp),
      startFlood({ host: '127.0.0.1', port: tlsServer.port!, tls: true }, CONNECTIONS / 2, overTls),
    ];
    try {
      await waitFor('the flood to be connected', () =>
        floods.every((f) => f.stats().opened + f.stats().failed === CONNECTIONS / 2),
      );
      const client = new PogRPCClient(tlsServer.address, { tls: { pinnedCertificatePem: identity.certificatePem } });
      try {
        expect((await client.deliverParcels([{ id: 'good-tls', parcel: Buffer.from('good') }])).acked).toEqual([
          'good-tls',
        ]);
      } finally {
        client.close();
      }
      // At once (garbage, bad frames), or when the silence guard notices a stalled handshake.
      await waitFor('the server to close every bad connection', () =>
        floods.every((f) => f.stats().closedByServer + f.stats().failed === CONNECTIONS / 2),
      );
    } finally {
      await Promise.all(floods.map((f) => f.stop()));
    }
  });
});
