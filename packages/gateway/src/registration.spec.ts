import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getIdFromIdentityKey } from '@twitter-relaynet/core';

import { RegistrationError } from './errors';
import {
  answerRegistrationRequests,
  readRegistrationResponse,
  writeRegistrationRequest,
} from './registration';
import { makeWorld } from './testUtils';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registration-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

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
