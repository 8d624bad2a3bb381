import { encryptPayload, issueGatewayCertificate, Parcel, ServiceMessage } from '@twitter-relaynet/core';

import { findFutureDatedParcels, FutureDatedCargoError } from './clockSkew';
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
import { collect, makeParcelToAdapter, makeWorld, type World } from './testUtils';
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
      parcelIds: [ahead3h.id],
      latest: ahead3h.creationDate,
      aheadMs: ahead3h.creationDate.getTime() - now.getTime(),
    });
    // The tolerance is a parameter (default 2 h).
    expect(findFutureDatedParcels(parcels, now, 1800)?.parcelIds).toHaveLength(2);
    expect(findFutureDatedParcels(parcels.slice(0, 2), now)).toBeNull();
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
 * gateways share one ManualClock, so the user gateway takes the parcel first and the clock is then set
 * back, as if the cargo were read on the Internet side.
 */
async function cargoFromTheFuture(world: World, parcels = 2): Promise<Buffer[]> {
  const userNow = world.clock.now();
  for (let index = 0; index < parcels; index += 1) {
    // 1 h ahead of the user gateway's own clock (accepted there), 3 h ahead of the Internet's once set back.
    await world.user.receiveParcelFromEndpoint(
      await makeParcelToAdapter(world, { creationDate: new Date(userNow.getTime() + HOUR) }),
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

describe('a cargo with parcels dated beyond the tolerance', () => {
  test('is not taken: nothing stored, no PCA, FutureDatedCargoError with the figures', async () => {
    const world = await makeWorld();
    const [cargo] = await cargoFromTheFuture(world);

    const error = await world.relaying.receiveCargo(cargo).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FutureDatedCargoError);
    const { details } = error as FutureDatedCargoError;
    expect(details.parcelIds).toHaveLength(2);
    expect(details.peerId).toBe(world.user.id);
    expect(details.aheadMs).toBeGreaterThanOrEqual(3 * HOUR - 1000);
    expect(details.toleranceSeconds).toBe(7200);
    expect((error as Error).message).toMatch(/holds 2 parcel\(s\) dated 3\.0 h ahead .* tolerance of 2\.0 h/);
    expect(await collect(world.relayingStores.parcels.list(INTERNET_QUEUE, { now: world.clock.now() }))).toEqual([]);
    expect(await collect(world.relayingStores.pcas.list(world.user.id, world.clock.now()))).toEqual([]);
    expect(world.relaying.counters.cargoRefused).toBe(1);
  });

  test('the user gateway is told through the next cargo it collects, and told again once a cargo of its is taken', async () => {
    const notices: ClockSkewNotice[] = [];
    const world = await makeWorld();
    const user = new UserGateway({
      identity: { privateKey: world.userNode.keyPair.privateKey, certificate: world.userNode.certificate },
      relayingGateway: { certificate: world.relayingNode.certificate },
      stores: world.userStores,
      clock: world.clock,
      onClockSkewNotice: (notice) => notices.push(notice),
    });
    const queued = async () =>
      (await collect(world.relayingStores.parcels.list(peerQueue(world.user.id), { now: world.clock.now() }))).map((p) => p.id);
    const refusals = await cargoFromTheFuture(world);
    const internetNow = world.clock.now();
    await expect(world.relaying.receiveCargo(refusals[0])).rejects.toThrow(FutureDatedCargoError);

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
    await expect(world.relaying.receiveCargo(refusals[0])).rejects.toThrow(FutureDatedCargoError);
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
      const content = serializeClockSkewNotice({ status: 'refused', at: now, aheadMs: 3 * HOUR, parcelCount: 1, toleranceSeconds: 7200 });
      const { envelopedData } = await encryptPayload(new ServiceMessage(type, content).serialize(), {
        certificate: world.userNode.certificate,
      });
      const sender = signer === 'intruder' ? intruderCertificate : world.relayingNode.certificate;
      const key = signer === 'intruder' ? intruderKeys.privateKey : world.relayingNode.keyPair.privateKey;
      const parcel = new Parcel({ id: world.user.id }, sender, envelopedData, { creationDate: now, ttl: 3600 });
      return parcel.serialize(key);
    };
    for (const [serialized, reason] of [
      [await notice('intruder'), /not from its relaying gateway/],
      [await notice('relaying', 'text/plain'), /Unknown message type for this gateway: text\/plain/],
    ] as const) {
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
    const refused = world.userLogger.find('warn', /^Parcel in cargo refused$/).map((r) => String((r.fields as { reason: string }).reason));
    expect(refused).toEqual([
      expect.stringMatching(/^Parcel for this gateway from \w+, not from its relaying gateway$/),
      'Parcel for this gateway is unreadable: Unknown message type for this gateway: text/plain',
    ]);
  });
});
