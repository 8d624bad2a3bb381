import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getIdFromIdentityKey } from '@twitter-relaynet/core';

import { CourierRegistrar, createCourierRegistrationRequest } from './courierRegistration';
import { RegistrationError, RegistrationResponseRefusedError, UnrelatedRegistrationResponseError } from './errors';
import {
  answerRegistrationRequests,
  readRegistrationResponse,
  selfIssueGatewayCertificate,
  writeRegistrationRequest,
} from './registration';
import { createMemoryStores, MemoryCourierAnswerStore } from './stores/memory';
import { openGatewaySqliteStores } from './stores/sqlite';
import { peerQueue } from './stores/types';
import { makeWorld } from '@twitter-relaynet/test-support/gateway';
import { UserGatewayRegistration } from './userGatewayRegistration';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registration-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A parcel record as the user gateway queues it. */
const parcelFor = (queue: string, id: string) => ({
  queue,
  senderId: '0app',
  id,
  recipientId: '0adapter',
  recipientInternetAddress: 'adapter.test',
  expiryDate: new Date(Date.now() + 3_600_000),
  serialized: Buffer.from(id),
});

test('request → certificate → response, through a shared directory', async () => {
  const world = await makeWorld();
  const [userKeys] = world.spareKeys;
  const userId = getIdFromIdentityKey(userKeys.publicKey);
  await expect(readRegistrationResponse(dir, userKeys.publicKey)).resolves.toBeNull();

  const requestPath = await writeRegistrationRequest(dir, userKeys.publicKey);
  expect(readFileSync(requestPath, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  await expect(
    answerRegistrationRequests(dir, world.relaying, { internetAddress: 'gw.relaynet.test' }),
  ).resolves.toEqual([userId]);
  expect(readdirSync(dir)).toEqual([`${userId}.response.json`]);

  const response = await readRegistrationResponse(dir, userKeys.publicKey);
  expect(response!.userGatewayCertificate.calculateSubjectId()).toBe(userId);
  expect(response!.relayingGatewayCertificate.isEqual(world.relayingNode.certificate)).toBe(true);
  expect(response!.relayingGatewayInternetAddress).toBe('gw.relaynet.test');
  const validityDays =
    (response!.userGatewayCertificate.expiryDate.getTime() - world.clock.now().getTime()) / 86_400_000;
  expect(Math.round(validityDays)).toBe(180);
  // Registered: the relaying gateway now knows it.
  expect(await world.relaying.getUserGatewayCertificate(userId)).not.toBeNull();
});

test('a response that does not certify our key, or was tampered with, is refused', async () => {
  const world = await makeWorld();
  const [userKeys, otherKeys] = world.spareKeys;
  await writeRegistrationRequest(dir, userKeys.publicKey);
  await answerRegistrationRequests(dir, world.relaying);
  const userId = getIdFromIdentityKey(userKeys.publicKey);
  const otherId = getIdFromIdentityKey(otherKeys.publicKey);

  // Someone renames our response as another gateway's.
  writeFileSync(join(dir, `${otherId}.response.json`), readFileSync(join(dir, `${userId}.response.json`)));
  await expect(readRegistrationResponse(dir, otherKeys.publicKey)).rejects.toThrow(RegistrationError);

  // Someone swaps the relaying gateway certificate for another one.
  const response = JSON.parse(readFileSync(join(dir, `${userId}.response.json`), 'utf8'));
  response.relayingGatewayCertificate = response.userGatewayCertificate;
  writeFileSync(join(dir, `${userId}.response.json`), JSON.stringify(response));
  await expect(readRegistrationResponse(dir, userKeys.publicKey)).rejects.toThrow(/not issued by the relaying/);

  writeFileSync(join(dir, `${userId}.response.json`), '{');
  await expect(readRegistrationResponse(dir, userKeys.publicKey)).rejects.toThrow(/malformed/);
});

test('a malformed or misnamed request is reported and left alone', async () => {
  const world = await makeWorld();
  const [userKeys, otherKeys] = world.spareKeys;
  const path = await writeRegistrationRequest(dir, userKeys.publicKey);
  const misnamed = join(dir, `${getIdFromIdentityKey(otherKeys.publicKey)}.request.pem`);
  writeFileSync(misnamed, readFileSync(path));
  rmSync(path);
  writeFileSync(join(dir, '0bad.request.pem'), 'not a key');
  const errors: string[] = [];
  await expect(
    answerRegistrationRequests(dir, world.relaying, { onError: (file) => errors.push(file) }),
  ).resolves.toEqual([]);
  expect(errors.sort()).toEqual([join(dir, '0bad.request.pem'), misnamed].sort());
});

describe('UserGatewayRegistration: the user gateway keeps its registration in its stores', () => {
  test('pinning and registering each move the placeholder queue in the same commit; a start moves leftovers', async () => {
    const world = await makeWorld();
    const [userKeys] = world.spareKeys;
    const userId = getIdFromIdentityKey(userKeys.publicKey);
    const stores = createMemoryStores();
    const relayingQueue = peerQueue(world.relayingNode.certificate.calculateSubjectId());
    await stores.parcels.put(parcelFor(peerQueue(userId), 'before the pin'));

    const registration = await UserGatewayRegistration.open({ stores, userGatewayId: userId });
    expect(registration.record).toBeNull();
    await expect(registration.pin(world.relayingNode.certificate)).resolves.toBe(true);
    await expect(registration.pin(world.userNode.certificate)).resolves.toBe(false); // pinned once only
    expect(await stores.parcels.count(relayingQueue)).toBe(1);

    // A parcel stored in the placeholder meanwhile (its request was under way): moved by the registration.
    await stores.parcels.put(parcelFor(peerQueue(userId), 'after the pin'));
    await writeRegistrationRequest(dir, userKeys.publicKey);
    await answerRegistrationRequests(dir, world.relaying);
    await registration.complete((await readRegistrationResponse(dir, userKeys.publicKey))!);
    expect(registration.isRegistered).toBe(true);
    expect(await stores.parcels.count(relayingQueue)).toBe(2);

    // And at the next start, whatever a crash (or an earlier version) left there.
    await stores.parcels.put(parcelFor(peerQueue(userId), 'left over'));
    const reopened = await UserGatewayRegistration.open({ stores, userGatewayId: userId });
    expect(reopened.isRegistered).toBe(true);
    expect(reopened.userGatewayCertificate!.calculateSubjectId()).toBe(userId);
    expect(await stores.parcels.count(relayingQueue)).toBe(3);
    expect(await stores.parcels.count(peerQueue(userId))).toBe(0);
  });

  test('a response from another relaying gateway than the pinned one is refused, and nothing changes', async () => {
    const world = await makeWorld();
    const [userKeys, otherKeys] = world.spareKeys;
    const userId = getIdFromIdentityKey(userKeys.publicKey);
    const stores = createMemoryStores();
    const registration = await UserGatewayRegistration.open({ stores, userGatewayId: userId });
    await registration.pin(await selfIssueGatewayCertificate(otherKeys));
    await writeRegistrationRequest(dir, userKeys.publicKey);
    await answerRegistrationRequests(dir, world.relaying);
    const response = (await readRegistrationResponse(dir, userKeys.publicKey))!;
    await expect(registration.complete(response)).rejects.toThrow(/not the pinned/);
    expect(registration.isRegistered).toBe(false);
    expect((await stores.registration.get())!.userGatewayCertificate).toBeNull();
  });

  test('the registration of an earlier version (files) is imported once, with the queue move', async () => {
    const world = await makeWorld();
    const [userKeys] = world.spareKeys;
    const userId = getIdFromIdentityKey(userKeys.publicKey);
    const stores = createMemoryStores();
    await stores.parcels.put(parcelFor(peerQueue(userId), 'stranded'));
    const legacy = { relayingGatewayCertificate: world.relayingNode.certificate, userGatewayCertificate: null };
    const registration = await UserGatewayRegistration.open({ stores, userGatewayId: userId, legacy });
    expect(registration.relayingGatewayCertificate!.isEqual(world.relayingNode.certificate)).toBe(true);
    expect(await stores.parcels.count(peerQueue(world.relayingNode.certificate.calculateSubjectId()))).toBe(1);
  });

  test('a parcel left in the placeholder queue after the registration goes out with the next cargo', async () => {
    const world = await makeWorld();
    const relayingQueue = peerQueue(world.user.relayingGatewayId);
    await world.userStores.parcels.put({
      ...parcelFor(peerQueue(world.user.id), 'late'),
      expiryDate: new Date(world.clock.now().getTime() + 3_600_000),
    });
    const cargoes = [];
    for await (const cargo of world.user.generateCargoForRelayingGateway()) cargoes.push(cargo);
    expect(cargoes.map((c) => c.parcelCount)).toEqual([1]);
    expect(await world.userStores.parcels.count(peerQueue(world.user.id))).toBe(0);
    expect(await world.userStores.parcels.count(relayingQueue)).toBe(1);
  });
});

test('with a responses directory: each response is written there, and one left beside the requests is moved', async () => {
  const world = await makeWorld();
  const [userKeys, otherKeys] = world.spareKeys;
  const requests = join(dir, 'requests');
  const responses = join(dir, 'responses');
  await writeRegistrationRequest(requests, otherKeys.publicKey);
  await answerRegistrationRequests(requests, world.relaying); // as an earlier version did: beside the request
  const stray = `${getIdFromIdentityKey(otherKeys.publicKey)}.response.json`;
  expect(readdirSync(requests)).toEqual([stray]);

  await writeRegistrationRequest(requests, userKeys.publicKey);
  await expect(
    answerRegistrationRequests(requests, world.relaying, { responsesDirectory: responses }),
  ).resolves.toEqual([getIdFromIdentityKey(userKeys.publicKey)]);
  expect(readdirSync(requests)).toEqual([]);
  expect(readdirSync(responses).sort()).toEqual(
    [`${getIdFromIdentityKey(userKeys.publicKey)}.response.json`, stray].sort(),
  );
  expect(await readRegistrationResponse(responses, userKeys.publicKey)).not.toBeNull();
});

describe('UserGatewayRegistration: the response from the shared folder or from a courier', () => {
  test('from the folder: nothing until the response is there, then registered with the queue moved', async () => {
    const world = await makeWorld();
    const [userKeys] = world.spareKeys;
    const userId = getIdFromIdentityKey(userKeys.publicKey);
    const stores = createMemoryStores();
    await stores.parcels.put(parcelFor(peerQueue(userId), 'early'));
    const registration = await UserGatewayRegistration.open({ stores, userGatewayId: userId });
    await expect(registration.completeFromFolder(dir, userKeys.publicKey)).resolves.toBeNull();
    await writeRegistrationRequest(dir, userKeys.publicKey);
    await answerRegistrationRequests(dir, world.relaying);
    const response = await registration.completeFromFolder(dir, userKeys.publicKey);
    expect(response!.userGatewayCertificate.calculateSubjectId()).toBe(userId);
    expect(registration.isRegistered).toBe(true);
    expect(await stores.parcels.count(peerQueue(world.relayingNode.certificate.calculateSubjectId()))).toBe(1);
  });

  test('from a courier: the request is made once and kept; only its answer is taken, once', async () => {
    const world = await makeWorld();
    const [userKeys, otherKeys] = world.spareKeys;
    const userId = getIdFromIdentityKey(userKeys.publicKey);
    const requestPath = join(dir, 'courier-request.der');
    const registration = await UserGatewayRegistration.open({
      stores: createMemoryStores(),
      userGatewayId: userId,
      logger: world.userLogger,
    });
    const registrar = new CourierRegistrar({ gateway: world.relaying, answers: new MemoryCourierAnswerStore() });
    const answer = async (request: Buffer) => (await registrar.answer(request)).response;

    await expect(registration.completeFromCourier(Buffer.from('anything'), requestPath)).rejects.toThrow(
      new UnrelatedRegistrationResponseError('This user gateway has no pending registration request'),
    );
    const identity = { keyPair: userKeys, certificate: () => selfIssueGatewayCertificate(userKeys) };
    const request = (await registration.courierRequest({ requestPath, ...identity }))!;
    await expect(registration.courierRequest({ requestPath, ...identity })).resolves.toEqual(request);

    // The answer to another gateway's request is refused, for good.
    const other = await createCourierRegistrationRequest({
      keyPair: otherKeys,
      certificate: await selfIssueGatewayCertificate(otherKeys),
    });
    await expect(registration.completeFromCourier(await answer(other), requestPath)).rejects.toBeInstanceOf(
      RegistrationResponseRefusedError,
    );
    expect(registration.isRegistered).toBe(false);

    const response = await answer(request);
    expect(
      (await registration.completeFromCourier(response, requestPath))!.userGatewayCertificate.calculateSubjectId(),
    ).toBe(userId);
    expect(registration.isRegistered).toBe(true);
    // The same answer brought again: nothing to do. And nothing to carry any more.
    await expect(registration.completeFromCourier(response, requestPath)).resolves.toBeNull();
    await expect(registration.courierRequest({ requestPath, ...identity })).resolves.toBeNull();
    expect(
      world.userLogger.find('info', /Relaying gateway certificate pinned \(from the registration response\)/),
    ).toHaveLength(1);
  });

  test('a registration whose commit fails leaves the parcels queued before it where they were, and can be retried', async () => {
    const world = await makeWorld();
    const [userKeys] = world.spareKeys;
    const userId = getIdFromIdentityKey(userKeys.publicKey);
    const relayingQueue = peerQueue(world.relayingNode.certificate.calculateSubjectId());
    const stores = openGatewaySqliteStores(join(dir, 'user.sqlite'));
    try {
      await stores.parcels.put(parcelFor(peerQueue(userId), 'queued before the registration'));
      const registration = await UserGatewayRegistration.open({ stores, userGatewayId: userId });
      await writeRegistrationRequest(dir, userKeys.publicKey);
      await answerRegistrationRequests(dir, world.relaying);

      // The queue move fails half-way through the registration's transaction (say the disk is full).
      const moveQueueNow = stores.parcels.moveQueueNow.bind(stores.parcels);
      stores.parcels.moveQueueNow = () => {
        throw new Error('disk full');
      };
      await expect(registration.completeFromFolder(dir, userKeys.publicKey)).rejects.toThrow('disk full');
      expect(registration.isRegistered).toBe(false);
      await expect(stores.registration.get()).resolves.toBeNull();
      expect(await stores.parcels.count(peerQueue(userId))).toBe(1);
      expect(await stores.parcels.count(relayingQueue)).toBe(0);

      stores.parcels.moveQueueNow = moveQueueNow;
      await registration.completeFromFolder(dir, userKeys.publicKey);
      expect(registration.isRegistered).toBe(true);
      expect(await stores.parcels.count(peerQueue(userId))).toBe(0);
      expect(await stores.parcels.count(relayingQueue)).toBe(1);
    } finally {
      await stores.close();
    }
  });
});
