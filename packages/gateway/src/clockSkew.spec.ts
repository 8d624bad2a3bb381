import { Cargo, encryptPayload, issueGatewayCertificate, Parcel, ServiceMessage } from '@twitter-relaynet/core';

import { findFutureDatedParcels } from './clockSkew';
import {
  CLOCK_SKEW_NOTICE_TYPE,
  CLOCK_SKEW_REFUSED_PARCEL_ID,
  CLOCK_SKEW_RESOLVED_PARCEL_ID,
  type ClockSkewNotice,
  MalformedClockSkewNoticeError,
  parseClockSkewNotice,
  serializeClockSkewNotice,
} from './clockSkewNotice';
import type { OutgoingCargo } from './Gateway';
import { INTERNET_QUEUE, peerQueue } from './stores/types';
import { collect, makeParcelToAdapter, makeWorld, type World } from '@twitter-relaynet/test-support/gateway';
import { UserGateway } from './UserGateway';

const HOUR = 3_600_000;

async function cargoIds(cargoes: AsyncIterable<OutgoingCargo>): Promise<Buffer[]> {
  return (await collect(cargoes)).map((cargo) => cargo.serialized);
}

describe('findFutureDatedParcels', () => {
  test('finds the parcels dated beyond the tolerance, and only those', async () => {
    const world = await makeWorld();
    const now = world.clock.now();
    const dated = async (offsetMs: number) =>
      Parcel.deserialize(await makeParcelToAdapter(world, { creationDate: new Date(now.getTime() + offsetMs) }));
    const ahead3h = await dated(3 * HOUR);
    const parcels = [await dated(-3 * HOUR), await dated(HOUR), ahead3h];

    expect(findFutureDatedParcels(parcels, now)).toEqual({
      parcels: [ahead3h],
      parcelIds: [ahead3h.id],
      latest: ahead3h.creationDate,
      aheadMs: ahead3h.creationDate.getTime() - now.getTime(),
    });
    // The tolerance is a parameter (default 2 h).
    expect(findFutureDatedParcels(parcels, now, 1800)?.parcelIds).toHaveLength(2);
    expect(findFutureDatedParcels(parcels.slice(0, 2), now)).toBeNull();
  });
});

/** The world's user gateway, with a listener for clock skew notices. */
function userGatewayHearing(world: World, notices: ClockSkewNotice[]): UserGateway {
  return new UserGateway({
    identity: { privateKey: world.userNode.keyPair.privateKey, certificate: world.userNode.certificate },
    relayingGateway: { certificate: world.relayingNode.certificate },
    stores: world.userStores,
    clock: world.clock,
    onClockSkewNotice: (notice) => notices.push(notice),
  });
}

describe("a queued parcel dated beyond the tolerance of the sending gateway's own clock", () => {
  test('is held back from cargo until its date is acceptable, and goes once replaced by a re-dated copy', async () => {
    const world = await makeWorld();
    const userNow = world.clock.now();
    // Made while the user's clock was 3 days ahead; the clock has been set right since.
    world.clock.set(new Date(userNow.getTime() + 72 * HOUR));
    const early = await makeParcelToAdapter(world);
    await world.user.receiveParcelFromEndpoint(early);
    world.clock.set(userNow);
    const now = await makeParcelToAdapter(world);
    await world.user.receiveParcelFromEndpoint(now);

    const contents = async () => {
      const cargoes = await cargoIds(world.user.generateCargoForRelayingGateway());
      const ids: string[] = [];
      for (const cargo of cargoes) {
        for (const item of (await (await Cargo.deserialize(cargo)).unwrapPayload(world.relayingNode.keyPair.privateKey))
          .payload.messages) {
          ids.push((await Parcel.deserialize(item)).id);
        }
      }
      return ids;
    };
    const earlyId = (await Parcel.deserialize(early)).id;
    const nowId = (await Parcel.deserialize(now)).id;
    expect(await contents()).toEqual([nowId]);
    expect(world.userLogger.find('warn', /^1 parcel\(s\) held back from cargo/)).toHaveLength(1);
    expect(world.user.counters.parcelsHeldBack).toBe(1);
    expect(await queuedAtUser(world)).toEqual(expect.arrayContaining([earlyId, nowId]));

    // Its sender replaces it with a copy dated now (same id): it goes.
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: earlyId }));
    expect((await contents()).sort()).toEqual([earlyId, nowId].sort());
  });
});

describe('clock skew notice content', () => {
  const refused: ClockSkewNotice = {
    status: 'refused',
    at: new Date('2026-11-28T10:00:00.000Z'),
    aheadMs: 3 * HOUR,
    parcelCount: 2,
    toleranceSeconds: 7200,
  };
  const resolved: ClockSkewNotice = { status: 'resolved', at: new Date('2026-11-28T11:00:00.000Z') };
  const json = (value: object) => Buffer.from(JSON.stringify(value));

  test('round trip', () => {
    expect(parseClockSkewNotice(serializeClockSkewNotice(refused))).toEqual(refused);
    expect(parseClockSkewNotice(serializeClockSkewNotice(resolved))).toEqual(resolved);
  });

  const at = refused.at.toISOString();
  test.each([
    ['not JSON', Buffer.from('{')],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['an array', json([])],
    ['too large', Buffer.alloc(2000, 0x20)],
    ['an unknown status', json({ status: 'maybe', at })],
    ['an unknown field', json({ status: 'resolved', at, aheadMs: 5 })],
    ['a date that is not ISO', json({ status: 'resolved', at: 'yesterday' })],
    ['a negative offset', json({ status: 'refused', at, aheadMs: -5, parcelCount: 1, toleranceSeconds: 0 })],
    ['a fractional count', json({ status: 'refused', at, aheadMs: 5, parcelCount: 1.5, toleranceSeconds: 0 })],
    ['a missing field', json({ status: 'refused', at, aheadMs: 5, parcelCount: 1 })],
  ])('refuses %s with MalformedClockSkewNoticeError', (_label, content) => {
    expect(() => parseClockSkewNotice(content)).toThrow(MalformedClockSkewNoticeError);
  });
});

/**
 * The user's clock 3 h ahead: the app's parcels are dated 3 h after the relaying gateway's clock. Both
 * gateways share one ManualClock, so the user gateway takes the parcels first and the clock is then set
 * back, as if the cargo were read on the Internet side. `valid` parcels are dated 2 h before the user's
 * clock: right by the Internet's.
 */
async function cargoFromTheFuture(world: World, parcels = 2, valid = 0): Promise<Buffer[]> {
  const userNow = world.clock.now();
  for (let index = 0; index < parcels + valid; index += 1) {
    // 1 h ahead of the user gateway's own clock (accepted there), 3 h ahead of the Internet's once set back.
    const offset = index < parcels ? HOUR : -2 * HOUR;
    await world.user.receiveParcelFromEndpoint(
      await makeParcelToAdapter(world, { creationDate: new Date(userNow.getTime() + offset) }),
    );
  }
  const cargoes = await cargoIds(world.user.generateCargoForRelayingGateway());
  world.clock.set(new Date(userNow.getTime() - 2 * HOUR));
  return cargoes;
}

async function collectWithCca(world: World): Promise<Buffer[]> {
  const collection = await world.relaying.collectCargo(await world.user.generateCca());
  return cargoIds(collection.cargoes);
}

const queuedAtUser = async (world: World) =>
  (await collect(world.userStores.parcels.list(peerQueue(world.relaying.id), { now: world.clock.now() }))).map(
    (p) => p.id,
  );

describe('a cargo with parcels dated beyond the tolerance', () => {
  test('is taken without them: the valid parcels are stored and acknowledged, the others stay with the sender', async () => {
    const world = await makeWorld();
    const [cargo] = await cargoFromTheFuture(world, 2, 1);
    const [valid] = (await queuedAtUser(world)).slice(2);

    const receipt = await world.relaying.receiveCargo(cargo);

    expect(receipt).toMatchObject({ parcelsStored: 1, itemsSkipped: 0 });
    const { futureDated } = receipt;
    expect(futureDated?.parcelIds).toHaveLength(2);
    expect(futureDated?.peerId).toBe(world.user.id);
    expect(futureDated?.aheadMs).toBeGreaterThanOrEqual(3 * HOUR - 1000);
    expect(futureDated?.toleranceSeconds).toBe(7200);
    expect(
      (await collect(world.relayingStores.parcels.list(INTERNET_QUEUE, { now: world.clock.now() }))).map((p) => p.id),
    ).toEqual([valid]);
    const pcas = await collect(world.relayingStores.pcas.list(world.user.id, world.clock.now()));
    expect(pcas.map((pca) => pca.parcelId)).toEqual([valid]);
    expect(world.relaying.counters).toMatchObject({ cargoRefused: 0, cargoReceived: 1, parcelsLeftOut: 2 });

    // The PCA goes back: the user gateway deletes the valid parcel only, and sends the others again.
    for (const back of await collectWithCca(world)) await world.user.receiveCargo(back);
    expect(await queuedAtUser(world)).toEqual(futureDated?.parcelIds);
  });

  test('a cargo and a CCA from a clock 3 days ahead: its parcels are left out, and the word gets back at once', async () => {
    const world = await makeWorld();
    const internetNow = world.clock.now();
    world.clock.set(new Date(internetNow.getTime() + 72 * HOUR));
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world));
    const [cargo] = await cargoIds(world.user.generateCargoForRelayingGateway());
    const cca = await world.user.generateCca();
    world.clock.set(internetNow);

    // The cargo is dated 69 h ahead (backdated 3 h): taken all the same, its parcel left out.
    const receipt = await world.relaying.receiveCargo(cargo);
    expect(receipt.parcelsStored).toBe(0);
    expect(receipt.futureDated?.parcelIds).toHaveLength(1);
    const collected = await cargoIds((await world.relaying.collectCargo(cca)).cargoes);
    expect(collected).toHaveLength(1);

    world.clock.set(new Date(internetNow.getTime() + 72 * HOUR));
    const notices: ClockSkewNotice[] = [];
    await userGatewayHearing(world, notices).receiveCargo(collected[0]);
    expect(notices).toEqual([
      { status: 'refused', at: internetNow, aheadMs: expect.any(Number), parcelCount: 1, toleranceSeconds: 7200 },
    ]);
  });

  test('the user gateway is told through the next cargo it collects, and told again once a cargo of its is taken', async () => {
    const notices: ClockSkewNotice[] = [];
    const world = await makeWorld();
    const user = userGatewayHearing(world, notices);
    const queued = async () =>
      (await collect(world.relayingStores.parcels.list(peerQueue(world.user.id), { now: world.clock.now() }))).map(
        (p) => p.id,
      );
    const refusals = await cargoFromTheFuture(world);
    const internetNow = world.clock.now();
    expect((await world.relaying.receiveCargo(refusals[0])).futureDated).not.toBeNull();

    // The courier collects (same trip): the notice rides back, signed by the relaying gateway.
    const collected = await collectWithCca(world);
    expect(collected).toHaveLength(1);
    const receipt = await user.receiveCargo(collected[0]);
    expect(receipt).toMatchObject({ parcelsConsumed: 1, parcelsStored: 0, itemsSkipped: 0 });
    expect(notices).toEqual([
      { status: 'refused', at: internetNow, aheadMs: expect.any(Number), parcelCount: 2, toleranceSeconds: 7200 },
    ]);
    const [first] = notices as Array<Extract<ClockSkewNotice, { status: 'refused' }>>;
    expect(first.aheadMs).toBeGreaterThanOrEqual(3 * HOUR - 1000);
    expect(first.aheadMs).toBeLessThanOrEqual(3 * HOUR + 1000);

    // A second refusal replaces the queued notice (one per user gateway), it does not pile up.
    expect((await world.relaying.receiveCargo(refusals[0])).futureDated).not.toBeNull();
    expect(await queued()).toEqual([CLOCK_SKEW_REFUSED_PARCEL_ID]);

    // Time passes on the Internet side: within the tolerance now. The user's cargo (its parcels and the
    // PCA for the notice) is taken, each parcel once; a "resolved" notice replaces the "refused" one.
    world.clock.advance(1.5 * HOUR);
    const fresh = await cargoIds(user.generateCargoForRelayingGateway());
    const taken = await world.relaying.receiveCargo(fresh[0]);
    expect(taken.parcelsStored).toBe(2);
    expect(await queued()).toEqual([CLOCK_SKEW_RESOLVED_PARCEL_ID]);
    const [back] = await collectWithCca(world);
    await user.receiveCargo(back);
    expect(notices.map((n) => n.status)).toEqual(['refused', 'resolved']);
    expect(notices[1].at).toEqual(world.clock.now());

    // Its PCA comes back with the next cargo: nothing more is queued, and no new notice.
    await world.relaying.receiveCargo((await cargoIds(user.generateCargoForRelayingGateway()))[0]);
    expect(await queued()).toEqual([]);
    for (const cargo of await collectWithCca(world)) await user.receiveCargo(cargo);
    expect(notices).toHaveLength(2);
  });

  test('a user gateway refuses a parcel for itself from anyone but its relaying gateway, or with other content', async () => {
    const world = await makeWorld();
    const [intruderKeys] = world.spareKeys;
    const now = world.clock.now();
    const intruderCertificate = await issueGatewayCertificate({
      subjectPublicKey: intruderKeys.publicKey,
      issuerPrivateKey: intruderKeys.privateKey,
      validityStartDate: new Date(now.getTime() - HOUR),
      validityEndDate: new Date(now.getTime() + 24 * HOUR),
    });
    // The intruder cannot make cargo the user gateway takes; so its notice is put in a cargo from the
    // real relaying gateway, as if that one had let it through.
    const notice = async (signer: 'intruder' | 'relaying', type = CLOCK_SKEW_NOTICE_TYPE) => {
      const content = serializeClockSkewNotice({
        status: 'refused',
        at: now,
        aheadMs: 3 * HOUR,
        parcelCount: 1,
        toleranceSeconds: 7200,
      });
      const { envelopedData } = await encryptPayload(new ServiceMessage(type, content).serialize(), {
        certificate: world.userNode.certificate,
      });
      const sender = signer === 'intruder' ? intruderCertificate : world.relayingNode.certificate;
      const key = signer === 'intruder' ? intruderKeys.privateKey : world.relayingNode.keyPair.privateKey;
      const parcel = new Parcel({ id: world.user.id }, sender, envelopedData, { creationDate: now, ttl: 3600 });
      return parcel.serialize(key);
    };
    // The log's reasons for the two are checked below, in this order.
    for (const serialized of [await notice('intruder'), await notice('relaying', 'text/plain')]) {
      // Queue it for the user gateway as if it came from the Internet, bypassing the relaying gateway's checks.
      await world.relayingStores.parcels.put({
        queue: peerQueue(world.user.id),
        senderId: 'x',
        id: (await Parcel.deserialize(serialized)).id,
        recipientId: world.user.id,
        recipientInternetAddress: null,
        expiryDate: new Date(now.getTime() + HOUR),
        serialized,
      });
    }
    const [cargo] = await collectWithCca(world);
    const receipt = await world.user.receiveCargo(cargo);
    expect(receipt).toMatchObject({ parcelsConsumed: 0, parcelsStored: 0 });
    const refused = world.userLogger
      .find('warn', /^Parcel in cargo refused$/)
      .map((r) => String((r.fields as { err: string }).err));
    expect(refused).toEqual([
      expect.stringMatching(/^Parcel for this gateway from \w+, not from its relaying gateway$/),
      'Parcel for this gateway is unreadable: Unknown message type for this gateway: text/plain',
    ]);
  });
});
