import { derSerializePublicKey, getIdFromIdentityKey, signSignedData } from '@twitter-relaynet/core';

import {
  CourierRegistrar,
  createCourierRegistrationRequest,
  REGISTRATION_REQUEST_MAX_AGE_MS,
  registrationRequestDigest,
  verifyCourierRegistrationResponse,
} from './courierRegistration';
import {
  MalformedRegistrationRequestError,
  MalformedRegistrationResponseError,
  RegistrationRequestTimingError,
  UnrelatedRegistrationResponseError,
} from './errors';
import { selfIssueGatewayCertificate } from './registration';
import { createMemoryStores } from './stores/memory';
import type { CourierAnswerStore } from './stores/types';
import { makeWorld, type World } from '@twitter-relaynet/test-support/gateway';

let world: World;
/** The relaying gateway's stores' answers: what a restarted gateway (a new registrar) finds again. */
let answers: CourierAnswerStore;
beforeEach(async () => {
  world = await makeWorld();
  answers = createMemoryStores().courierAnswers;
});

async function userIdentity(index = 0) {
  const keyPair = world.spareKeys[index];
  return {
    keyPair,
    certificate: await selfIssueGatewayCertificate(keyPair),
    id: getIdFromIdentityKey(keyPair.publicKey),
  };
}

function registrar(): CourierRegistrar {
  return new CourierRegistrar({
    gateway: world.relaying,
    answers,
    clock: world.clock,
    logger: world.relayingLogger,
  });
}

test('a request is answered once: the same request again gets the same response and no second certificate', async () => {
  const user = await userIdentity();
  const request = await createCourierRegistrationRequest(user, world.clock);
  const first = await registrar().answer(request);
  // A new registrar (a restarted gateway) remembers it too.
  const again = await registrar().answer(request);
  expect(first.replayed).toBe(false);
  expect(again).toEqual({ response: first.response, userGatewayId: user.id, replayed: true });
  await expect(answers.get(registrationRequestDigest(request).toString('hex'))).resolves.toEqual(first.response);
  const response = await verifyCourierRegistrationResponse(first.response, {
    pendingRequest: request,
    userGatewayId: user.id,
    pinned: null,
  });
  expect(response.userGatewayCertificate.calculateSubjectId()).toBe(user.id);
  expect(response.relayingGatewayCertificate.isEqual(world.relaying.certificate)).toBe(true);
});

test('a request not signed by the key it registers, or tampered with, is refused', async () => {
  const user = await userIdentity(0);
  const attacker = await userIdentity(1);
  const plaintext = {
    type: 'courier-registration-request',
    publicKey: derSerializePublicKey(user.keyPair.publicKey).toString('base64'),
    nonce: Buffer.alloc(16, 1).toString('base64'),
    creationDate: world.clock.now().toISOString(),
  };
  const forged = await signSignedData(
    Buffer.from(JSON.stringify(plaintext)),
    attacker.keyPair.privateKey,
    attacker.certificate,
  );
  await expect(registrar().answer(forged)).rejects.toThrow(
    new MalformedRegistrationRequestError('Registration request refused: it is not signed by the key it registers'),
  );
  const tampered = Buffer.from(await createCourierRegistrationRequest(user, world.clock));
  tampered[tampered.length - 300] ^= 0x01;
  await expect(registrar().answer(tampered)).rejects.toThrow(MalformedRegistrationRequestError);
  // Nothing kept: forgetting every answer there is forgets none.
  await expect(answers.purgeExpired(new Date(8.64e15))).resolves.toBe(0);
  expect(world.relayingLogger.records.filter((r) => r.message === 'Courier registration request refused')).toHaveLength(
    2,
  );
});

test('a request older than 90 days is refused', async () => {
  const user = await userIdentity();
  const request = await createCourierRegistrationRequest(user, world.clock);
  world.clock.advance(REGISTRATION_REQUEST_MAX_AGE_MS + 60_000);
  await expect(registrar().answer(request)).rejects.toThrow(RegistrationRequestTimingError);
});

test('the user gateway refuses a response to another request, from another relaying gateway, or tampered with', async () => {
  const user = await userIdentity();
  const request = await createCourierRegistrationRequest(user, world.clock);
  const { response } = await registrar().answer(request);
  const newerRequest = await createCourierRegistrationRequest(user, world.clock);
  await expect(
    verifyCourierRegistrationResponse(response, { pendingRequest: newerRequest, userGatewayId: user.id, pinned: null }),
  ).rejects.toThrow(UnrelatedRegistrationResponseError);
  const otherRelaying = await selfIssueGatewayCertificate(world.spareKeys[2]);
  await expect(
    verifyCourierRegistrationResponse(response, {
      pendingRequest: request,
      userGatewayId: user.id,
      pinned: otherRelaying,
    }),
  ).rejects.toThrow(UnrelatedRegistrationResponseError);
  const tampered = Buffer.from(response);
  tampered[Math.floor(tampered.length / 3)] ^= 0x01;
  await expect(
    verifyCourierRegistrationResponse(tampered, { pendingRequest: request, userGatewayId: user.id, pinned: null }),
  ).rejects.toThrow(MalformedRegistrationResponseError);
});
