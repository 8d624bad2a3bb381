/** The public endpoint over real PogRPC (plaintext test mode and TLS with a pinned certificate). */
import { generateSelfSignedCertificate, PogRPCClient, type PogRPCServer } from '@twitter-relaynet/pogrpc';

import { ManualClock, type IncomingMessage, type MessageHandler } from '../src';
import { ADAPTER_ADDRESS, makePair, tempDir, text } from './helpers';

const GATEWAY_ADDRESS = 'rne+grpc://relayer-gateway.test:21473';

type Pair = Awaited<ReturnType<typeof makePair>>;

describe('PublicEndpoint over PogRPC (plaintext)', () => {
  let pair: Pair;
  let server: PogRPCServer;
  let client: PogRPCClient;
  let handler: MessageHandler;
  const handled: IncomingMessage[] = [];
  const clock = new ManualClock();

  beforeAll(async () => {
    pair = await makePair({
      publicOptions: { onMessage: (message) => handler(message), clock },
    });
    server = await pair.publicEndpoint.listen({ address: '127.0.0.1:0', tls: { insecurePlaintextForTests: true } });
    client = new PogRPCClient(`127.0.0.1:${server.port}`, {
      tls: { insecurePlaintextForTests: true },
      gatewayAddress: GATEWAY_ADDRESS,
    });
  });

  beforeEach(() => {
    clock.set(new Date());
    handled.length = 0;
    pair.publicLogger.records.length = 0;
    handler = async (message) => {
      handled.push(message);
    };
  });

  afterAll(async () => {
    client.close();
    await pair.publicEndpoint.close();
    await pair.privateEndpoint.close();
  });

  test('the app gets the message with its sender and the gateway return address', async () => {
    const parcel = await pair.privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'hello'));
    const report = await client.deliverParcels([{ id: 'd1', parcel: parcel.parcel }]);
    expect(report.error).toBeUndefined();
    expect(report.acked).toEqual(['d1']);
    expect(handled).toHaveLength(1);
    const [message] = handled;
    expect(message.parcelId).toBe(parcel.parcelId);
    expect(message.type).toBe('text/plain');
    expect(message.content.toString()).toBe('hello');
    expect(message.gatewayAddress).toBe(GATEWAY_ADDRESS);
    expect(message.sender.id).toBe(pair.privateEndpoint.id);
    expect(message.sender.certificate.isEqual(pair.privateEndpoint.certificate!)).toBe(true);
    expect(message.sender.certificateChain.map((c) => c.calculateSubjectId())).toEqual([
      pair.gateway.certificate.calculateSubjectId(),
    ]);
    expect(pair.publicLogger.find('info', /handed to the app/)[0].fields.parcelId).toBe(parcel.parcelId);
  });

  test('the ack is sent only after the handler resolved', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    handler = async (message) => {
      started();
      await released;
      handled.push(message);
    };
    const acks: string[] = [];
    const parcel = await pair.privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'slow'));
    const delivery = client.deliverParcels([{ id: 'slow', parcel: parcel.parcel }], { onAck: (id) => acks.push(id) });
    await handlerStarted;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(acks).toEqual([]);
    release();
    const report = await delivery;
    expect(report.acked).toEqual(['slow']);
    expect(acks).toEqual(['slow']);
    expect(handled).toHaveLength(1);
  });

  test('a handler that rejects leaves the parcel unacknowledged, and redelivery works', async () => {
    handler = async () => {
      throw new Error('disk full');
    };
    const parcel = await pair.privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'retry me'));
    const failed = await client.deliverParcels([{ id: 'r1', parcel: parcel.parcel }]);
    expect(failed.acked).toEqual([]);
    expect(failed.unacked.map((u) => u.id)).toEqual(['r1']);
    expect(pair.publicLogger.find('warn', /did not take the message/)[0].fields.parcelId).toBe(parcel.parcelId);

    handler = async (message) => {
      handled.push(message);
    };
    const retried = await client.deliverParcels([{ id: 'r2', parcel: parcel.parcel }]);
    expect(retried.acked).toEqual(['r2']);
    expect(handled.map((m) => m.content.toString())).toEqual(['retry me']);
  });

  test('a duplicate is dropped but still acknowledged', async () => {
    const parcel = await pair.privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'once'));
    const first = await client.deliverParcels([{ id: 'a', parcel: parcel.parcel }]);
    const second = await client.deliverParcels([{ id: 'b', parcel: parcel.parcel }]);
    expect(first.acked).toEqual(['a']);
    expect(second.acked).toEqual(['b']);
    expect(handled).toHaveLength(1);
    expect(pair.publicLogger.find('info', /repeat/)[0].fields.parcelId).toBe(parcel.parcelId);
  });

  test('concurrent copies of one parcel reach the app once', async () => {
    const parcel = await pair.privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'twice at once'));
    const outcomes = await Promise.all([
      pair.publicEndpoint.receiveParcel(parcel.parcel),
      pair.publicEndpoint.receiveParcel(parcel.parcel),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['accepted', 'duplicate']);
    expect(handled).toHaveLength(1);
  });

  test('a parcel for another Internet address or another endpoint is refused (acknowledged, logged)', async () => {
    const parameters = await pair.publicEndpoint.getConnectionParameters();
    await pair.privateEndpoint.addPublicPeer({ ...parameters, internetAddress: 'elsewhere.example.com' });
    const wrongAddress = await pair.privateEndpoint.makeParcel('elsewhere.example.com', text('text/plain', 'x'));
    const other = await makePair();
    const otherParameters = await other.publicEndpoint.getConnectionParameters();
    await pair.privateEndpoint.addPublicPeer({ ...otherParameters, internetAddress: ADAPTER_ADDRESS });
    const wrongId = await pair.privateEndpoint.makeParcel(other.publicEndpoint.id, text('text/plain', 'y'));
    // Restore the real peer for the other tests.
    await pair.privateEndpoint.addPublicPeer(parameters);

    const report = await client.deliverParcels([
      { id: 'addr', parcel: wrongAddress.parcel },
      { id: 'id', parcel: wrongId.parcel },
    ]);
    expect(report.acked).toEqual(['addr', 'id']);
    expect(handled).toEqual([]);
    const refusals = pair.publicLogger.find('warn', /Refused a parcel/);
    expect(refusals.map((r) => r.fields.parcelId)).toEqual([wrongAddress.parcelId, wrongId.parcelId]);
    expect(refusals[0].fields.reason).toMatch(/elsewhere\.example\.com/);
    expect(refusals[1].fields.reason).toMatch(/not to this endpoint/);
    await other.publicEndpoint.close();
  });

  test('a tampered parcel is refused', async () => {
    const parcel = await pair.privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'original'));
    const tampered = Buffer.from(parcel.parcel);
    tampered[Math.floor(tampered.length / 2)] ^= 0x01;
    const outcome = await pair.publicEndpoint.receiveParcel(tampered);
    expect(outcome.status).toBe('refused');
    const report = await client.deliverParcels([{ id: 't', parcel: tampered }]);
    expect(report.acked).toEqual(['t']);
    expect(handled).toEqual([]);
  });

  test('an expired parcel is refused', async () => {
    const parcel = await pair.privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'late'), {
      ttlSeconds: 60,
    });
    clock.advance(5 * 60_000);
    const report = await client.deliverParcels([{ id: 'e', parcel: parcel.parcel }]);
    expect(report.acked).toEqual(['e']);
    expect(handled).toEqual([]);
    expect(pair.publicLogger.find('warn', /Refused a parcel/)[0].fields.reason).toMatch(/expired/);
  });

  test('garbage is refused without reaching the app', async () => {
    const report = await client.deliverParcels([{ id: 'g', parcel: Buffer.from('not a parcel') }]);
    expect(report.acked).toEqual(['g']);
    expect(handled).toEqual([]);
  });
});

describe('PublicEndpoint over PogRPC with TLS', () => {
  test('a relaying gateway pinning the server certificate delivers; another pin is refused', async () => {
    const dir = tempDir();
    const handled: IncomingMessage[] = [];
    const pair = await makePair({
      publicOptions: {
        onMessage: async (message) => {
          handled.push(message);
        },
      },
    });
    const server = await pair.publicEndpoint.listen({ address: '127.0.0.1:0', tls: { stateDir: dir.path } });
    expect(server.certificatePem).toContain('BEGIN CERTIFICATE');
    const client = new PogRPCClient(`127.0.0.1:${server.port}`, {
      tls: { pinnedCertificatePem: server.certificatePem! },
      gatewayAddress: GATEWAY_ADDRESS,
    });
    try {
      const parcel = await pair.privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'over TLS'));
      const report = await client.deliverParcels([{ parcel: parcel.parcel }]);
      expect(report.error).toBeUndefined();
      expect(report.acked).toHaveLength(1);
      expect(handled.map((m) => m.content.toString())).toEqual(['over TLS']);

      const other = generateSelfSignedCertificate({ hostnames: ['127.0.0.1'] });
      const wrongPin = new PogRPCClient(`127.0.0.1:${server.port}`, {
        tls: { pinnedCertificatePem: other.certificatePem },
        deadlineMs: 5_000,
      });
      const refused = await wrongPin.deliverParcels([{ parcel: parcel.parcel }]);
      wrongPin.close();
      expect(refused.acked).toEqual([]);
      expect(refused.error).toBeDefined();
    } finally {
      client.close();
      await pair.publicEndpoint.close();
      dir.cleanup();
    }
  });
});
