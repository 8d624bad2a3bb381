import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import {
  Cargo,
  CargoMessageSet,
  encryptPayload,
  issueDeliveryAuthorization,
  issueGatewayCertificate,
  MAX_RAMF_MESSAGE_LENGTH,
  MAX_SDU_PLAINTEXT_LENGTH,
  Parcel,
  ParcelCollectionAck,
} from '@twitter-relaynet/core';

import { CargoRefusedError, ParcelRefusedError } from './errors';
import { CARGO_BACKDATING_MS, type OutgoingCargo } from './Gateway';
import { deliveryBackoffMs } from './RelayingGateway';
import { createMemoryStores } from './stores/memory';
import { openGatewaySqliteStores } from './stores/sqlite';
import { INTERNET_QUEUE, LOCAL_QUEUE, peerQueue } from './stores/types';
import { UserGateway } from './UserGateway';
import {
  collect,
  makeParcelToAdapter,
  makeParcelToApp,
  makeWorld,
  type World,
} from '@twitter-relaynet/test-support/gateway';

const HOUR = 3_600_000;

/** Relay every cargo the user gateway has to the relaying gateway. */
async function relayUpstream(world: World): Promise<OutgoingCargo[]> {
  const cargoes = await collect(world.user.generateCargoForRelayingGateway());
  for (const cargo of cargoes) await world.relaying.receiveCargo(cargo.serialized);
  return cargoes;
}

/** Collect the cargo for the user gateway with a fresh CCA and deliver it. */
async function relayDownstream(world: World): Promise<OutgoingCargo[]> {
  const collection = await world.relaying.collectCargo(await world.user.generateCca());
  const cargoes = await collect(collection.cargoes);
  for (const cargo of cargoes) await world.user.receiveCargo(cargo.serialized);
  return cargoes;
}

async function ids(iterable: AsyncIterable<{ id: string }>): Promise<string[]> {
  return (await collect(iterable)).map((item) => item.id);
}

describe('a parcel delivered by another instance while its copy is being stored', () => {
  /** Stores whose commits are preceded by another writer's: it records the delivery of each guarded parcel. */
  function deliveredMeanwhile(world: World): void {
    const stores = world.relayingStores;
    const writeBatch = stores.writeBatch.bind(stores);
    stores.writeBatch = async (writes) => {
      for (const write of writes) {
        if (write.kind === 'put parcel' && write.unlessRecorded) {
          await stores.ledger.record(write.unlessRecorded.namespace, write.unlessRecorded.id, write.parcel.expiryDate);
        }
      }
      return writeBatch(writes);
    };
  }

  test('in cargo: acknowledged as already delivered, not queued again', async () => {
    const world = await makeWorld();
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'tweet' }));
    deliveredMeanwhile(world);
    const [cargo] = await collect(world.user.generateCargoForRelayingGateway());
    await expect(world.relaying.receiveCargo(cargo.serialized)).resolves.toMatchObject({
      parcelsStored: 0,
      duplicatesAcknowledged: 1,
    });
    expect(world.relaying.counters).toMatchObject({ parcelsStored: 0, duplicatesAcknowledged: 1, pcasQueued: 1 });
    await expect(world.relaying.nextDeliverable()).resolves.toBeNull();
  });

  test('from the Internet: acknowledged as already delivered, not queued again', async () => {
    const world = await makeWorld();
    deliveredMeanwhile(world);
    await expect(
      world.relaying.receiveParcelFromInternet(await makeParcelToApp(world, { id: 'reply' })),
    ).resolves.toMatchObject({
      outcome: 'already delivered',
    });
    expect(await world.relayingStores.parcels.count()).toBe(0);
  });
});

describe('cargo round trip', () => {
  test('user gateway → relaying gateway → user gateway, with PCAs deleting the parcels', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-'));
    const world = await makeWorld({
      userStores: openGatewaySqliteStores(join(dir, 'user.sqlite')),
      relayingStores: openGatewaySqliteStores(join(dir, 'relaying.sqlite')),
    });
    try {
      const upstreamQueue = peerQueue(world.relaying.id);
      const downstreamQueue = peerQueue(world.user.id);

      // 1. The app sends a tweet; the adapter sends timeline tweets.
      await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'tweet-1' }));
      await expect(
        world.relaying.receiveParcelFromInternet(await makeParcelToApp(world, { id: 'timeline-1' })),
      ).resolves.toMatchObject({ outcome: 'stored', key: { queue: downstreamQueue } });

      // 2. Upstream cargo reaches the relaying gateway: the tweet is due for delivery.
      const [up1] = await relayUpstream(world);
      expect(up1).toMatchObject({ parcelCount: 1, pcaCount: 0 });
      expect(world.relaying.counters).toMatchObject({ cargoReceived: 1, parcelsStored: 2, pcasQueued: 1 });
      const deliverable = await world.relaying.nextDeliverable();
      expect(deliverable).toMatchObject({ id: 'tweet-1', recipientInternetAddress: 'twitter.relaynet.test' });
      await world.relaying.markDelivered(deliverable!);
      await expect(world.relaying.nextDeliverable()).resolves.toBeNull();

      // 3. Downstream: the PCA for the tweet and the timeline parcel.
      const [down1] = await relayDownstream(world);
      expect(down1).toMatchObject({ parcelCount: 1, pcaCount: 1 });
      expect(await world.userStores.parcels.count(upstreamQueue)).toBe(0); // PCA deleted the tweet
      const forApp = await collect(world.user.listParcelsForEndpoint(world.app.certificate.calculateSubjectId()));
      expect(forApp.map((p) => p.id)).toEqual(['timeline-1']);
      expect((await Parcel.deserialize(forApp[0].serialized)).payloadSerialized.toString()).toBe('timeline');

      // 4. The relaying gateway keeps its copy until the user gateway's PCA comes back.
      expect(await world.relayingStores.parcels.count(downstreamQueue)).toBe(1);
      const [up2] = await relayUpstream(world);
      expect(up2).toMatchObject({ parcelCount: 0, pcaCount: 1 });
      expect(await world.relayingStores.parcels.count(downstreamQueue)).toBe(0);
      expect(world.relaying.counters.pcasReceived).toBe(1);

      // Nothing left to send either way; PCAs went out once.
      await expect(collect(world.user.generateCargoForRelayingGateway())).resolves.toEqual([]);
      await expect(relayDownstream(world)).resolves.toEqual([]);
    } finally {
      await world.userStores.close();
      await world.relayingStores.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cargo is backdated 3 h, lives until its latest item expires, and is signed as it should be', async () => {
    const world = await makeWorld();
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { ttl: 3600 }));
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { ttl: 7200 }));
    const [outgoing] = await collect(world.user.generateCargoForRelayingGateway());
    const cargo = await Cargo.deserialize(outgoing.serialized);
    const now = world.clock.now().getTime();
    expect(Math.abs(cargo.creationDate.getTime() - (now - CARGO_BACKDATING_MS))).toBeLessThanOrEqual(1000);
    expect(cargo.expiryDate.getTime()).toBeGreaterThanOrEqual(now + 7200 * 1000 - 1000);
    expect(cargo.expiryDate.getTime()).toBeLessThanOrEqual(now + 7200 * 1000 + 3000);
    expect(cargo.senderCertificate.isEqual(world.userNode.certificate)).toBe(true);
    expect(cargo.recipient).toEqual({ id: world.relaying.id });

    await world.relaying.receiveParcelFromInternet(await makeParcelToApp(world));
    const { cargoes } = await world.relaying.collectCargo(await world.user.generateCca());
    const [down] = await collect(cargoes);
    const downCargo = await Cargo.deserialize(down.serialized);
    // Signed with the CDA the user gateway issued to the relaying gateway's key.
    expect(downCargo.senderCertificate.calculateSubjectId()).toBe(world.relaying.id);
    expect(await downCargo.senderCertificate.isIssuedBy(world.userNode.certificate)).toBe(true);
    await expect(downCargo.unwrapPayload(world.userNode.keyPair.privateKey)).resolves.toBeTruthy();
  });

  test('a lost cargo means its parcels come again in the next one, in both directions', async () => {
    const world = await makeWorld();
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'up' }));
    await world.relaying.receiveParcelFromInternet(await makeParcelToApp(world, { id: 'down' }));

    const lostUp = await collect(world.user.generateCargoForRelayingGateway()); // the flashdrive is lost
    expect(lostUp).toHaveLength(1);
    const lostDown = await collect((await world.relaying.collectCargo(await world.user.generateCca())).cargoes);
    expect(lostDown).toHaveLength(1);

    const [up] = await relayUpstream(world);
    expect(up.parcelCount).toBe(1);
    expect(up.id).not.toBe(lostUp[0].id);
    const [down] = await relayDownstream(world);
    expect(down).toMatchObject({ parcelCount: 1, pcaCount: 1 });
    expect(await ids(world.user.listParcelsForEndpoint(world.app.certificate.calculateSubjectId()))).toEqual(['down']);
  });

  test('a parcel that comes again after delivery (our PCA was lost) is acknowledged again, not redelivered', async () => {
    const world = await makeWorld();
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'tweet' }));
    await relayUpstream(world);
    const parcel = (await world.relaying.nextDeliverable())!;
    await world.relaying.markDelivered(parcel);
    // The downstream cargo with the PCA is lost:
    await collect((await world.relaying.collectCargo(await world.user.generateCca())).cargoes);

    const [again] = await relayUpstream(world);
    expect(again.parcelCount).toBe(1);
    expect(world.relaying.counters.duplicatesAcknowledged).toBe(1);
    await expect(world.relaying.nextDeliverable()).resolves.toBeNull();
    const [down] = await relayDownstream(world);
    expect(down.pcaCount).toBe(1);
    expect(await world.userStores.parcels.count(peerQueue(world.relaying.id))).toBe(0);
  });

  test('batches into as few cargoes as the size limit allows', async () => {
    const world = await makeWorld();
    const payload = Buffer.alloc(3 * 1024 * 1024, 1);
    for (let i = 0; i < 5; i += 1) {
      await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: `big-${i}`, payload }));
    }
    const cargoes = await collect(world.user.generateCargoForRelayingGateway());
    // Two 3 MiB parcels fit in a cargo (≤ 8 322 048 octets of plaintext), three do not.
    expect(cargoes.map((c) => c.parcelCount)).toEqual([2, 2, 1]);
    for (const cargo of cargoes) {
      expect(cargo.serialized.length).toBeLessThanOrEqual(MAX_RAMF_MESSAGE_LENGTH);
      expect(cargo.serialized.length).toBeGreaterThan(3 * 1024 * 1024);
    }
    for (const cargo of cargoes) await world.relaying.receiveCargo(cargo.serialized);
    expect(await world.relayingStores.parcels.count(INTERNET_QUEUE)).toBe(5);
    expect(MAX_SDU_PLAINTEXT_LENGTH).toBeLessThan(3 * 3 * 1024 * 1024);
  }, 30_000);

  test('the generation lets go of a cargo handed on while it reads the parcels of the next one', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const userStores = createMemoryStores();
    // While the parcels are read, whether the cargo handed on before is still alive.
    let handedOn: WeakRef<ArrayBufferLike> | null = null;
    const aliveWhileReading: boolean[] = [];
    const list = userStores.parcels.list.bind(userStores.parcels);
    userStores.parcels.list = async function* (...args: Parameters<typeof list>) {
      for await (const parcel of list(...args)) {
        if (handedOn) {
          // (A WeakRef's target lives until the end of the task that made it.)
          await new Promise<void>((resolve) => setImmediate(resolve));
          gc();
          aliveWhileReading.push(handedOn.deref() !== undefined);
        }
        yield parcel;
      }
    };
    const world = await makeWorld({ userStores, maxCargoSetLength: 150_000 }); // one ~100 kB parcel a cargo
    for (let i = 0; i < 4; i += 1) {
      const payload = Buffer.alloc(100_000, i);
      await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: `p-${i}`, payload }));
    }
    const cargoes = world.user.generateCargoForRelayingGateway();
    let parcels = 0;
    for (;;) {
      const next = await nextCargoWeakly(cargoes);
      if (!next) break;
      parcels += next.parcelCount;
      handedOn = next.memory;
    }
    expect(parcels).toBe(4);
    // (A batch is known full once the parcel after it is read: parcels 3 and 4 are read while cargoes 2 and 3 are made.)
    expect(aliveWhileReading).toEqual([false, false]);
  });

  test('expired parcels are skipped in cargo and purged with a log line and a counter', async () => {
    const world = await makeWorld();
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'short', ttl: 60 }));
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'long', ttl: 7200 }));
    world.clock.advance(120_000);
    const [cargo] = await collect(world.user.generateCargoForRelayingGateway());
    expect(cargo.parcelCount).toBe(1);
    await world.relaying.receiveCargo(cargo.serialized);
    await expect(ids(world.relayingStores.parcels.list(INTERNET_QUEUE, { now: world.clock.now() }))).resolves.toEqual([
      'long',
    ]);

    await expect(world.user.purgeExpired()).resolves.toMatchObject({ parcels: 1 });
    expect(world.user.counters.expiredPurged).toBe(1);
    expect(world.userLogger.find('info', /Purged 1 expired parcel/)).toHaveLength(1);
    expect(await world.userStores.parcels.count()).toBe(1);
  });
});

describe('cargo reception', () => {
  async function craftCargo(
    world: World,
    items: Buffer[],
    signer = world.userNode,
    recipientId = world.relaying.id,
  ): Promise<Buffer> {
    const { envelopedData } = await encryptPayload(new CargoMessageSet(items).serialize(), {
      certificate: world.relayingNode.certificate,
    });
    const cargo = new Cargo({ id: recipientId }, signer.certificate, envelopedData, {
      creationDate: world.clock.now(),
      ttl: 3600,
    });
    return cargo.serialize(signer.keyPair.privateKey);
  }

  test('a bad item is logged and skipped while the others are stored', async () => {
    const world = await makeWorld();
    const good = await makeParcelToAdapter(world, { id: 'good' });
    const tampered = Buffer.from(await makeParcelToAdapter(world, { id: 'tampered' }));
    tampered[tampered.length - 1] ^= 1;
    const expired = await makeParcelToAdapter(world, {
      id: 'expired',
      creationDate: new Date(world.clock.now().getTime() - 2 * HOUR),
      ttl: 60,
    });
    // Well formed, but its sender is not an endpoint of the user gateway that sent the cargo.
    const [strangerKeys] = world.spareKeys;
    const now = world.clock.now().getTime();
    const stranger = await issueGatewayCertificate({
      subjectPublicKey: strangerKeys.publicKey,
      issuerPrivateKey: strangerKeys.privateKey,
      validityStartDate: new Date(now - 4 * HOUR),
      validityEndDate: new Date(now + 24 * HOUR),
    });
    const foreign = await new Parcel(
      { id: world.adapter.certificate.calculateSubjectId(), internetAddress: 'twitter.relaynet.test' },
      stranger,
      Buffer.from('x'),
      { id: 'foreign', creationDate: world.clock.now() },
    ).serialize(strangerKeys.privateKey);
    const items = [Buffer.from('garbage'), tampered, good, expired, foreign];
    const receipt = await world.relaying.receiveCargo(await craftCargo(world, items));

    expect(receipt).toMatchObject({ parcelsStored: 1, itemsSkipped: 4 });
    expect(world.relaying.counters.itemsSkipped).toBe(4);
    await expect(ids(world.relayingStores.parcels.list(INTERNET_QUEUE, { now: world.clock.now() }))).resolves.toEqual([
      'good',
    ]);
    expect(world.relayingLogger.find('warn', /skipped|refused/).length).toBeGreaterThanOrEqual(4);
    // The good parcel and the permanently refused (well-formed, unexpired) one are acknowledged,
    // so the peer stops sending them; the expired one's acknowledgement is moot.
    const pcas = await collect(world.relayingStores.pcas.list(world.user.id, world.clock.now()));
    expect(pcas.map((p) => p.parcelId).sort()).toEqual(['foreign', 'good']);
  });

  test('cargo from an unregistered gateway is refused', async () => {
    const world = await makeWorld();
    const [rogueKeys] = world.spareKeys;
    const parcel = await makeParcelToAdapter(world);
    const now = world.clock.now().getTime();
    const dates = { validityStartDate: new Date(now - 4 * HOUR), validityEndDate: new Date(now + 24 * HOUR) };

    // Self-issued sender certificate.
    const selfIssued = await issueGatewayCertificate({
      ...dates,
      subjectPublicKey: rogueKeys.publicKey,
      issuerPrivateKey: rogueKeys.privateKey,
    });
    await expect(
      world.relaying.receiveCargo(await craftCargo(world, [parcel], { keyPair: rogueKeys, certificate: selfIssued })),
    ).rejects.toThrow(CargoRefusedError);

    // Issued by the relaying gateway's key but never registered (the registry is what counts).
    const unregistered = await issueGatewayCertificate({
      ...dates,
      subjectPublicKey: rogueKeys.publicKey,
      issuerPrivateKey: world.relayingNode.keyPair.privateKey,
      issuerCertificate: world.relayingNode.certificate,
    });
    await expect(
      world.relaying.receiveCargo(await craftCargo(world, [parcel], { keyPair: rogueKeys, certificate: unregistered })),
    ).rejects.toThrow(/not a user gateway registered here/);

    // An endpoint of a registered gateway is not a gateway.
    await expect(world.relaying.receiveCargo(await craftCargo(world, [parcel], world.app))).rejects.toThrow(
      CargoRefusedError,
    );
    // Addressed to someone else.
    await expect(
      world.relaying.receiveCargo(await craftCargo(world, [parcel], world.userNode, world.user.id)),
    ).rejects.toThrow(/addressed to/);
    await expect(world.relaying.receiveCargo(Buffer.from('not cargo'))).rejects.toThrow(CargoRefusedError);

    expect(world.relaying.counters.cargoRefused).toBe(5);
    expect(await world.relayingStores.parcels.count()).toBe(0);
  });

  test('the user gateway accepts cargo only when signed with a CDA it issued to the relaying gateway', async () => {
    const world = await makeWorld();
    const parcel = await makeParcelToApp(world);
    const now = world.clock.now().getTime();
    const makeCargo = async (signerKey = world.relayingNode.keyPair, issuer = world.userNode) => {
      const cda = await issueDeliveryAuthorization({
        subjectPublicKey: signerKey.publicKey,
        issuerPrivateKey: issuer.keyPair.privateKey,
        issuerCertificate: issuer.certificate,
        validityStartDate: new Date(now - 4 * HOUR),
        validityEndDate: new Date(now + 24 * HOUR),
      });
      const { envelopedData } = await encryptPayload(new CargoMessageSet([parcel]).serialize(), {
        certificate: world.userNode.certificate,
      });
      return new Cargo({ id: world.user.id }, cda, envelopedData, { creationDate: world.clock.now() }).serialize(
        signerKey.privateKey,
      );
    };
    await expect(world.user.receiveCargo(await makeCargo())).resolves.toMatchObject({ parcelsStored: 1 });
    // A "CDA" for another key, or issued by someone else, is refused.
    await expect(world.user.receiveCargo(await makeCargo(world.spareKeys[0]))).rejects.toThrow(CargoRefusedError);
    await expect(world.user.receiveCargo(await makeCargo(world.relayingNode.keyPair, world.app))).rejects.toThrow(
      CargoRefusedError,
    );
  });
});

describe('parcel routing and PDAs', () => {
  test('endpoints only see their own parcels', async () => {
    const world = await makeWorld();
    const bob = {
      keyPair: world.spareKeys[1],
      certificate: await world.user.registerEndpoint(world.spareKeys[1].publicKey),
    };
    const bobPda = await issueDeliveryAuthorization({
      subjectPublicKey: world.adapter.keyPair.publicKey,
      issuerPrivateKey: bob.keyPair.privateKey,
      issuerCertificate: bob.certificate,
      validityStartDate: bob.certificate.startDate,
      validityEndDate: bob.certificate.expiryDate,
    });
    await world.relaying.receiveParcelFromInternet(await makeParcelToApp(world, { id: 'for-alice' }));
    await world.relaying.receiveParcelFromInternet(
      await makeParcelToApp(world, { id: 'for-bob', recipient: bob, pda: bobPda }),
    );
    await relayDownstream(world);

    const aliceId = world.app.certificate.calculateSubjectId();
    const bobId = bob.certificate.calculateSubjectId();
    await expect(ids(world.user.listParcelsForEndpoint(aliceId))).resolves.toEqual(['for-alice']);
    await expect(ids(world.user.listParcelsForEndpoint(bobId))).resolves.toEqual(['for-bob']);
    const adapterId = world.adapter.pda.calculateSubjectId();
    // Bob cannot acknowledge (delete) Alice's parcel; Alice can.
    await expect(world.user.markParcelCollected(bobId, adapterId, 'for-alice')).resolves.toBe(false);
    await expect(world.user.markParcelCollected(aliceId, adapterId, 'for-alice')).resolves.toBe(true);
    await expect(ids(world.user.listParcelsForEndpoint(aliceId))).resolves.toEqual([]);
    await expect(ids(world.user.listParcelsForEndpoint(bobId))).resolves.toEqual(['for-bob']);
  });

  test('parcels for a private endpoint without a valid PDA are refused at both gateways', async () => {
    const world = await makeWorld();
    const now = world.clock.now().getTime();
    // A "PDA" issued by the user gateway, not by the recipient endpoint.
    const wrongPda = await issueDeliveryAuthorization({
      subjectPublicKey: world.adapter.keyPair.publicKey,
      issuerPrivateKey: world.userNode.keyPair.privateKey,
      issuerCertificate: world.userNode.certificate,
      validityStartDate: new Date(now - 4 * HOUR),
      validityEndDate: new Date(now + 24 * HOUR),
    });
    const noPda = await makeParcelToApp(world, { pda: world.adapter.certificate });
    const badPda = await makeParcelToApp(world, { pda: wrongPda });

    await expect(world.relaying.receiveParcelFromInternet(noPda)).rejects.toThrow(ParcelRefusedError);
    await expect(world.relaying.receiveParcelFromInternet(badPda)).rejects.toThrow(ParcelRefusedError);
    await expect(world.relaying.receiveParcelFromInternet(await makeParcelToAdapter(world))).rejects.toThrow(
      /must be for private endpoints/,
    );
    expect(world.relaying.counters.parcelsRefused).toBe(3);

    // The user gateway checks too, whatever the relaying gateway let through.
    const cda = await issueDeliveryAuthorization({
      subjectPublicKey: world.relayingNode.keyPair.publicKey,
      issuerPrivateKey: world.userNode.keyPair.privateKey,
      issuerCertificate: world.userNode.certificate,
      validityStartDate: new Date(now - 4 * HOUR),
      validityEndDate: new Date(now + 24 * HOUR),
    });
    const good = await makeParcelToApp(world, { id: 'good' });
    const { envelopedData } = await encryptPayload(new CargoMessageSet([noPda, badPda, good]).serialize(), {
      certificate: world.userNode.certificate,
    });
    const cargo = new Cargo({ id: world.user.id }, cda, envelopedData, { creationDate: world.clock.now() });
    const receipt = await world.user.receiveCargo(await cargo.serialize(world.relayingNode.keyPair.privateKey));
    expect(receipt).toMatchObject({ parcelsStored: 1, itemsSkipped: 2 });
    await expect(ids(world.userStores.parcels.list(LOCAL_QUEUE, { now: world.clock.now() }))).resolves.toEqual([
      'good',
    ]);

    // And refuses a local endpoint's parcel to another local endpoint without a PDA.
    await expect(world.user.receiveParcelFromEndpoint(noPda)).rejects.toThrow(ParcelRefusedError);
  });

  test('the user gateway takes parcels for the Internet only from its own endpoints', async () => {
    const world = await makeWorld();
    const [strangerKeys] = world.spareKeys;
    const stranger = await issueGatewayCertificate({
      subjectPublicKey: strangerKeys.publicKey,
      issuerPrivateKey: strangerKeys.privateKey,
      validityStartDate: new Date(world.clock.now().getTime() - HOUR),
      validityEndDate: new Date(world.clock.now().getTime() + HOUR),
    });
    const parcel = new Parcel({ id: '0abc', internetAddress: 'twitter.relaynet.test' }, stranger, Buffer.from('x'), {
      creationDate: world.clock.now(),
    });
    await expect(world.user.receiveParcelFromEndpoint(await parcel.serialize(strangerKeys.privateKey))).rejects.toThrow(
      ParcelRefusedError,
    );
    await expect(world.user.receiveParcelFromEndpoint(Buffer.from('junk'))).rejects.toThrow(/malformed/);
  });

  test('the same (sender, id) from an endpoint replaces the queued copy', async () => {
    const world = await makeWorld();
    await world.user.receiveParcelFromEndpoint(
      await makeParcelToAdapter(world, { id: 'p', payload: Buffer.from('1') }),
    );
    await expect(
      world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'p', payload: Buffer.from('2') })),
    ).resolves.toMatchObject({ outcome: 'replaced' });
    const [cargo] = await collect(world.user.generateCargoForRelayingGateway());
    expect(cargo.parcelCount).toBe(1);
  });

  test('one relaying gateway routes parcels from the Internet to the right user gateway', async () => {
    const world = await makeWorld();
    const [gwKeys, endpointKeys] = world.spareKeys.slice(2);
    const otherCertificate = await world.relaying.registerUserGateway(gwKeys.publicKey);
    const other = new UserGateway({
      identity: { privateKey: gwKeys.privateKey, certificate: otherCertificate },
      relayingGateway: { certificate: world.relayingNode.certificate },
      stores: createMemoryStores(),
      clock: world.clock,
    });
    const carol = { keyPair: endpointKeys, certificate: await other.registerEndpoint(endpointKeys.publicKey) };
    const carolPda = await issueDeliveryAuthorization({
      subjectPublicKey: world.adapter.keyPair.publicKey,
      issuerPrivateKey: carol.keyPair.privateKey,
      issuerCertificate: carol.certificate,
      validityStartDate: carol.certificate.startDate,
      validityEndDate: carol.certificate.expiryDate,
    });
    const toCarol = new Parcel({ id: carol.certificate.calculateSubjectId() }, carolPda, Buffer.from('hi'), {
      id: 'for-carol',
      creationDate: world.clock.now(),
      senderCaCertificateChain: [carol.certificate, otherCertificate],
    });
    await world.relaying.receiveParcelFromInternet(await toCarol.serialize(world.adapter.keyPair.privateKey));
    await world.relaying.receiveParcelFromInternet(await makeParcelToApp(world, { id: 'for-alice' }));

    const otherCollection = await world.relaying.collectCargo(await other.generateCca());
    expect(otherCollection.userGatewayId).toBe(other.id);
    for (const cargo of await collect(otherCollection.cargoes)) await other.receiveCargo(cargo.serialized);
    await expect(ids(other.listParcelsForEndpoint(carol.certificate.calculateSubjectId()))).resolves.toEqual([
      'for-carol',
    ]);
    await relayDownstream(world);
    await expect(ids(world.userStores.parcels.list(LOCAL_QUEUE, { now: world.clock.now() }))).resolves.toEqual([
      'for-alice',
    ]);
  });
});

describe('delivery to the Internet', () => {
  test('leases, backs off after failures and deletes on delivery', async () => {
    const world = await makeWorld();
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'a' }));
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'b' }));
    await relayUpstream(world);

    const first = await world.relaying.nextDeliverable();
    const second = await world.relaying.nextDeliverable();
    expect([first?.id, second?.id]).toEqual(['a', 'b']);
    await expect(world.relaying.nextDeliverable()).resolves.toBeNull(); // both leased

    await world.relaying.markFailed(first!);
    expect(deliveryBackoffMs(1)).toBe(5000);
    world.clock.advance(4000);
    await expect(world.relaying.nextDeliverable()).resolves.toBeNull();
    world.clock.advance(1000);
    const retried = await world.relaying.nextDeliverable();
    expect(retried).toMatchObject({ id: 'a', attempts: 2 });
    await world.relaying.markFailed(retried!, new Date(world.clock.now().getTime() + HOUR));
    await world.relaying.markDelivered(second!);
    world.clock.advance(HOUR);
    expect((await world.relaying.nextDeliverable())?.id).toBe('a');
    expect(await world.relayingStores.parcels.count(INTERNET_QUEUE)).toBe(1);
    expect(deliveryBackoffMs(30)).toBe(HOUR);
  });

  test('a PCA in cargo deletes only the parcel it names, in the sender gateway queue', async () => {
    const world = await makeWorld();
    await world.relaying.receiveParcelFromInternet(await makeParcelToApp(world, { id: 'keep' }));
    const adapterId = world.adapter.pda.calculateSubjectId();
    const appId = world.app.certificate.calculateSubjectId();
    const pcas = [
      new ParcelCollectionAck(adapterId, appId, 'other').serialize(),
      new ParcelCollectionAck(adapterId, '0wrongrecipient', 'keep').serialize(),
    ];
    const { envelopedData } = await encryptPayload(new CargoMessageSet(pcas).serialize(), {
      certificate: world.relayingNode.certificate,
    });
    const cargo = new Cargo({ id: world.relaying.id }, world.userNode.certificate, envelopedData, {
      creationDate: world.clock.now(),
    });
    await expect(
      world.relaying.receiveCargo(await cargo.serialize(world.userNode.keyPair.privateKey)),
    ).resolves.toMatchObject({ pcasProcessed: 2 });
    expect(await world.relayingStores.parcels.count(peerQueue(world.user.id))).toBe(1);
  });
});

/** The next cargo, its memory held weakly (the caller keeps nothing else of it); null once there are no more. */
async function nextCargoWeakly(
  cargoes: AsyncIterator<OutgoingCargo>,
): Promise<{ memory: WeakRef<ArrayBufferLike>; parcelCount: number } | null> {
  const result = await cargoes.next();
  if (result.done) return null;
  return { memory: new WeakRef(result.value.serialized.buffer), parcelCount: result.value.parcelCount };
}
