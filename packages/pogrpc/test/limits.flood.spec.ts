/**
 * The PogRPC server's caps against connection and stream floods: the concurrent streams it
 * advertises per connection, and the connections it accepts at once (the next ones are closed, and
 * a good client is served again as soon as the flood goes away); and a TLS server under a flood of
 * bad connections, which keeps serving a good client and closes every bad connection itself.
 */
import * as http2 from 'node:http2';
import { connect, type Socket } from 'node:net';

import { randomBytes } from 'node:crypto';

import { garbage, startFlood, type Misbehaviour } from '@twitter-relaynet/binding-conformance';

import { createPogRPCServer, generateSelfSignedCertificate, MAX_CONCURRENT_STREAMS, PogRPCClient, type PogRPCServer } from '../src';

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

test('connections beyond the cap are closed at once; a good client is served once the flood is gone', async () => {
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: server.port! }, () => resolve(socket));
      socket.on('error', reject);
    });
  const flood = [await open(), await open(), await open()];
  try {
    const extra = await open();
    // Closed by the server without a byte (an HTTP/2 server would otherwise send its SETTINGS first).
    const received = await new Promise<number>((resolve) => {
      let octets = 0;
      extra.on('data', (chunk: Buffer) => (octets += chunk.length));
      extra.on('error', () => undefined);
      extra.once('close', () => resolve(octets));
    });
    expect(received).toBe(0);
  } finally {
    for (const socket of flood) socket.destroy();
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
    { name: 'h2 oversized frame', burst: () => Buffer.concat([h2Preface, Buffer.from([0xff, 0xff, 0xff, 0x00, 0x00, 0, 0, 0, 1])]) },
    { name: 'h2 half preface', burst: () => h2Preface.subarray(0, 12) },
  ];

  async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test(`${CONNECTIONS} bad connections: a good client is served, and every bad connection is closed by the server`, async () => {
    const floods = [
      startFlood({ host: '127.0.0.1', port: tlsServer.port! }, CONNECTIONS / 2, tcp),
      startFlood({ host: '127.0.0.1', port: tlsServer.port!, tls: true }, CONNECTIONS / 2, overTls),
    ];
    try {
      await until('the flood to be connected', () => floods.every((f) => f.stats().opened + f.stats().failed === CONNECTIONS / 2));
      const client = new PogRPCClient(tlsServer.address, { tls: { pinnedCertificatePem: identity.certificatePem } });
      try {
        expect((await client.deliverParcels([{ id: 'good-tls', parcel: Buffer.from('good') }])).acked).toEqual(['good-tls']);
      } finally {
        client.close();
      }
      // At once (garbage, bad frames), or when the silence guard notices a stalled handshake.
      await until('the server to close every bad connection', () =>
        floods.every((f) => f.stats().closedByServer + f.stats().failed === CONNECTIONS / 2),
      );
    } finally {
      await Promise.all(floods.map((f) => f.stop()));
    }
  });
});
