/** The private endpoint against the real PoWebSocket server (the user gateway's binding). */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';

import {
  encryptPayload,
  generateRsaKeyPair,
  issueEndpointCertificate,
  MemoryLogger,
  Parcel,
  ServiceMessage,
  silentLogger,
  type Certificate,
} from '@twitter-relaynet/core';
import { TestUserGateway } from '@twitter-relaynet/test-support/endpoint';

import {
  createMemoryStores,
  DATABASE_FILE_NAME,
  DELIVERIES_AHEAD,
  deserializeDeliveryAuthorization,
  PoWebSocketGatewayTransport,
  PrivateEndpoint,
  PublicEndpoint,
  serializeDeliveryAuthorization,
  type IncomingMessage,
} from '../src';
import { ADAPTER_ADDRESS, tempDir, text } from './helpers';

/** A public endpoint's identity outside the library, to forge parcels the library must refuse. */
async function makeRogueSender(): Promise<{ privateKey: KeyObject; certificate: Certificate }> {
  const { privateKey } = await generateRsaKeyPair();
  const now = Date.now();
  const certificate = await issueEndpointCertificate({
    subjectPublicKey: createPublicKey(privateKey),
    issuerPrivateKey: privateKey,
    validityStartDate: new Date(now - 3_600_000),
    validityEndDate: new Date(now + 86_400_000),
  });
  return { privateKey, certificate };
}

async function forgeParcel(
  sender: { privateKey: KeyObject },
  senderCertificate: Certificate,
  chain: readonly Certificate[],
  recipient: PrivateEndpoint,
  content: string,
): Promise<Buffer> {
  const { envelopedData } = await encryptPayload(new ServiceMessage('text/plain', Buffer.from(content)).serialize(), {
    certificate: recipient.certificate!,
  });
  const parcel = new Parcel({ id: recipient.id }, senderCertificate, envelopedData, {
    ttl: 3600,
    senderCaCertificateChain: chain,
  });
  return parcel.serialize(sender.privateKey);
}

describe('PrivateEndpoint over PoWebSocket', () => {
  const dir = tempDir();
  const socketPath = join(dir.path, 'gateway.sock');
  const dataDir = join(dir.path, 'app-data');
  let gateway: TestUserGateway;
  let app: PrivateEndpoint;
  let adapter: PublicEndpoint;
  const atAdapter: IncomingMessage[] = [];
  const logger = new MemoryLogger();

  beforeAll(async () => {
    gateway = await TestUserGateway.create(socketPath);
    await gateway.start();
    app = await PrivateEndpoint.open({
      dataDir,
      transport: new PoWebSocketGatewayTransport({ socketPath, logger: silentLogger }),
      logger,
    });
    adapter = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async (message) => {
        atAdapter.push(message);
      },
    });
  });

  afterAll(async () => {
    await app.close();
    await adapter.close();
    await gateway.stop();
    dir.cleanup();
  });

  test('registers with the gateway and keeps its keys owner-only in its data directory', async () => {
    expect(app.certificate).toBeNull();
    const certificate = await app.register();
    expect(certificate.calculateSubjectId()).toBe(app.id);
    expect(await certificate.isIssuedBy(gateway.certificate)).toBe(true);
    expect(app.gatewayCertificate?.isEqual(gateway.certificate)).toBe(true);

    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    for (const suffix of ['', '-wal', '-shm']) {
      expect(statSync(join(dataDir, DATABASE_FILE_NAME + suffix)).mode & 0o777).toBe(0o600);
    }

    // Another process opening the same data directory finds the same identity; no new registration.
    const again = await PrivateEndpoint.open({
      dataDir,
      transport: {
        register: () => Promise.reject(new Error('must not register again')),
        connect: () => Promise.reject(new Error('no')),
      },
    });
    try {
      expect(again.id).toBe(app.id);
      expect(again.certificate?.isEqual(certificate)).toBe(true);
      expect((await again.register()).isEqual(certificate)).toBe(true);
    } finally {
      await again.close();
    }
  });

  test('issues a PDA with the chain the public endpoint must attach', async () => {
    const authorization = await app.issuePda(adapter.certificate, new Date(Date.now() + 7 * 86_400_000));
    expect(authorization.pda.calculateSubjectId()).toBe(adapter.id);
    expect(authorization.pda.isCA).toBe(false);
    expect(await authorization.pda.isIssuedBy(app.certificate!)).toBe(true);
    expect(authorization.chain.map((c) => c.calculateSubjectId())).toEqual([
      app.id,
      gateway.certificate.calculateSubjectId(),
    ]);
    const roundTripped = deserializeDeliveryAuthorization(serializeDeliveryAuthorization(authorization));
    expect(roundTripped.pda.isEqual(authorization.pda)).toBe(true);
    expect(roundTripped.chain.map((c) => c.calculateSubjectId())).toEqual(
      authorization.chain.map((c) => c.calculateSubjectId()),
    );

    const capped = await app.issuePda(adapter.certificate, new Date(Date.now() + 10 * 365 * 86_400_000));
    expect(capped.pda.expiryDate.getTime()).toBeLessThanOrEqual(app.certificate!.expiryDate.getTime());
  });

  test('sends a message: the gateway stores the parcel and the adapter accepts it', async () => {
    await app.addPublicPeer(await adapter.getConnectionParameters());
    const sent = await app.sendMessage(ADAPTER_ADDRESS, text('application/vnd.subscribe', 'subscribe'));
    expect(sent.encryption).toBe('session');
    expect(gateway.delivered).toHaveLength(1);
    expect(await adapter.receiveParcel(gateway.delivered[0])).toMatchObject({
      status: 'accepted',
      parcelId: sent.parcelId,
    });
    expect(atAdapter[0]).toMatchObject({ type: 'application/vnd.subscribe', encryption: 'session' });
    expect(atAdapter[0].sender.id).toBe(app.id);
  });

  test('delivers parcels from an async source as they are made, several unacknowledged at once', async () => {
    const before = gateway.delivered.length;
    const count = 12;
    let made = 0;
    let maxAhead = 0;
    async function* parcels() {
      for (let index = 0; index < count; index++) {
        made += 1;
        maxAhead = Math.max(maxAhead, made - (gateway.delivered.length - before));
        yield await app.makeParcel(ADAPTER_ADDRESS, text('text/plain', `tweet ${index}`));
      }
    }
    await app.deliverParcels(parcels());

    const delivered = gateway.delivered.slice(before);
    expect(delivered).toHaveLength(count);
    const contents = [];
    for (const parcel of delivered) {
      expect(await adapter.receiveParcel(parcel)).toMatchObject({ status: 'accepted' });
      contents.push(atAdapter[atAdapter.length - 1].content.toString());
    }
    expect(contents.sort()).toEqual(Array.from({ length: count }, (_, index) => `tweet ${index}`).sort());
    // Taken ahead of the acks, never more than DELIVERIES_AHEAD.
    expect(maxAhead).toBeGreaterThan(1);
    expect(maxAhead).toBeLessThanOrEqual(DELIVERIES_AHEAD);
  });

  test('a delivery that fails rejects deliverParcels once the others settled', async () => {
    const parcel = await app.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'too big'));
    const tooBig = { ...parcel, parcel: Buffer.alloc(10 * 1024 * 1024) };
    await expect(app.deliverParcels([parcel, tooBig])).rejects.toThrow();
  });

  test('collects the replies, acknowledging each only after the app took it', async () => {
    const authorization = await app.issuePda(adapter.certificate, new Date(Date.now() + 86_400_000));
    await adapter.sendMessage(text('text/plain', 'reply 1'), { authorization });
    await adapter.sendMessage(text('text/plain', 'reply 2'), { authorization });
    const outbox = await adapter.stores.outbox.listDue(new Date(), 10);
    const queue = outbox.map((entry) => entry.parcel);
    gateway.queues.set(app.id, queue);

    // The app fails to store the second message: it stays at the gateway.
    const taken: IncomingMessage[] = [];
    await expect(
      app.collectMessages({
        onMessage: async (message) => {
          if (message.content.toString() === 'reply 2') throw new Error('disk full');
          taken.push(message);
        },
      }),
    ).rejects.toThrow();
    expect(taken.map((m) => m.content.toString())).toEqual(['reply 1']);
    // The second stays at the gateway. The first was handled alongside it: its ack may not have gone out before
    // the failure closed the connection, and then it stays too.
    expect(queue).toContain(outbox[1].parcel);

    // Next collection: the second one arrives; the first, delivered again, is dropped as a repeat.
    if (!queue.includes(outbox[0].parcel)) queue.unshift(outbox[0].parcel);
    const report = await app.collectMessages({
      onMessage: async (message) => {
        taken.push(message);
      },
    });
    expect(report).toEqual({ accepted: 1, duplicates: 1, refused: 0 });
    expect(taken.map((m) => m.content.toString())).toEqual(['reply 1', 'reply 2']);
    expect(taken[1].sender.id).toBe(adapter.id);
    expect(taken[1].encryption).toBe('session');
    expect(queue).toHaveLength(0);
  });

  test('refuses parcels from a public sender without a PDA from this endpoint (acknowledged, logged)', async () => {
    const rogue = await makeRogueSender();
    // Self-signed sender certificate: no PDA at all.
    const noPda = await forgeParcel(rogue, rogue.certificate, [], app, 'no PDA');
    // A PDA, but issued by another endpoint of the same gateway.
    const other = await PrivateEndpoint.open({
      stores: createMemoryStores(),
      transport: new PoWebSocketGatewayTransport({ socketPath, logger: silentLogger }),
    });
    await other.register();
    const othersPda = await other.issuePda(rogue.certificate, new Date(Date.now() + 86_400_000));
    const wrongPda = await forgeParcel(rogue, othersPda.pda, othersPda.chain, app, 'PDA from someone else');
    await other.close();
    gateway.queues.set(app.id, [noPda, wrongPda]);

    const taken: IncomingMessage[] = [];
    const report = await app.collectMessages({
      onMessage: async (message) => {
        taken.push(message);
      },
    });
    expect(report).toEqual({ accepted: 0, duplicates: 0, refused: 2 });
    expect(taken).toEqual([]);
    expect(gateway.queues.get(app.id)).toEqual([]);
    const refusals = logger.find('warn', /Refused a parcel/).slice(-2);
    expect(refusals.map((r) => r.fields.reason)).toEqual([
      expect.stringMatching(/not authorized/i),
      expect.stringMatching(/not authorized/i),
    ]);
  });

  test('a parcel made with a PDA this endpoint issued is accepted', async () => {
    const rogue = await makeRogueSender();
    const { pda, chain } = await app.issuePda(rogue.certificate, new Date(Date.now() + 86_400_000));
    const parcel = await forgeParcel(rogue, pda, chain, app, 'authorized');
    const outcome = await app.receiveParcel(parcel, async () => undefined);
    expect(outcome.status).toBe('accepted');
  });
});
