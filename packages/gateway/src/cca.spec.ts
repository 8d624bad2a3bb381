import type { KeyObject } from 'node:crypto';

import {
  type Certificate,
  CargoCollectionAuthorization,
  CargoCollectionRequest,
  encryptPayload,
  issueDeliveryAuthorization,
  issueGatewayCertificate,
  RelaynetError,
} from '@twitter-relaynet/core';

import {
  CcaRefusedError,
  CcaReusedError,
  CcaTimingError,
  CcaUnauthorizedSenderError,
  CcaWrongRecipientError,
  GatewayError,
  InvalidCdaError,
  MalformedCcaError,
} from './errors';
import { RelayingGateway } from './RelayingGateway';
import { CCA_BACKDATING_MS, DEFAULT_CCA_TTL_SECONDS } from './UserGateway';
import { collect, makeParcelToApp, makeWorld, type World } from '@twitter-relaynet/test-support/gateway';

const HOUR = 3_600_000;

let world: World;
beforeEach(async () => {
  world = await makeWorld();
});

interface CcaOptions {
  readonly recipientId?: string;
  readonly signer?: { readonly keyPair: { readonly privateKey: KeyObject }; readonly certificate: Certificate };
  readonly cdaSubjectKey?: KeyObject;
  readonly creationDate?: Date;
  readonly ttl?: number;
}

/** A CCA made by hand, to vary one thing at a time. */
async function craftCca(options: CcaOptions = {}): Promise<Buffer> {
  const signer = options.signer ?? world.userNode;
  const now = world.clock.now().getTime();
  const cda = await issueDeliveryAuthorization({
    subjectPublicKey: options.cdaSubjectKey ?? world.relayingNode.keyPair.publicKey,
    issuerPrivateKey: signer.keyPair.privateKey,
    issuerCertificate: signer.certificate,
    validityStartDate: new Date(now - 4 * HOUR),
    validityEndDate: new Date(now + 48 * HOUR),
  });
  const { envelopedData } = await encryptPayload(new CargoCollectionRequest(cda).serialize(), {
    certificate: world.relayingNode.certificate,
  });
  return new CargoCollectionAuthorization(
    { id: options.recipientId ?? world.relaying.id },
    signer.certificate,
    envelopedData,
    {
      creationDate: options.creationDate ?? world.clock.now(),
      ttl: options.ttl ?? 3600,
    },
  ).serialize(signer.keyPair.privateKey);
}

test('the user gateway issues a fresh CCA each time, backdated 90 min, carrying a CDA for the relaying gateway', async () => {
  const [a, b] = [await world.user.generateCca(), await world.user.generateCca()];
  const cca = await CargoCollectionAuthorization.deserialize(a);
  expect(cca.id).not.toBe((await CargoCollectionAuthorization.deserialize(b)).id);
  expect(cca.recipient).toEqual({ id: world.relaying.id });
  const now = world.clock.now().getTime();
  expect(Math.abs(cca.creationDate.getTime() - (now - CCA_BACKDATING_MS))).toBeLessThanOrEqual(1000);
  expect(
    Math.abs(cca.expiryDate.getTime() - (now - CCA_BACKDATING_MS + DEFAULT_CCA_TTL_SECONDS * 1000)),
  ).toBeLessThanOrEqual(1000);
  const { payload } = await cca.unwrapPayload(world.relayingNode.keyPair.privateKey);
  const cda = payload.cargoDeliveryAuthorization;
  expect(cda.calculateSubjectId()).toBe(world.relaying.id);
  expect(cda.isCA).toBe(false);
  expect(await cda.isIssuedBy(world.userNode.certificate)).toBe(true);
  expect(cda.expiryDate.getTime() - now).toBeGreaterThanOrEqual(24 * HOUR);
});

test('a valid CCA is accepted and yields the cargo for its user gateway', async () => {
  await world.relaying.receiveParcelFromInternet(await makeParcelToApp(world, { id: 'x' }));
  const collection = await world.relaying.collectCargo(await world.user.generateCca());
  expect(collection.userGatewayId).toBe(world.user.id);
  const cargoes = await collect(collection.cargoes);
  expect(cargoes).toHaveLength(1);
  await expect(world.user.receiveCargo(cargoes[0].serialized)).resolves.toMatchObject({ parcelsStored: 1 });
  // A hand-made CCA with the same properties is fine too.
  await expect(world.relaying.collectCargo(await craftCca())).resolves.toBeTruthy();
});

test('a CCA is refused the second time, even after a restart of the gateway object', async () => {
  const cca = await world.user.generateCca();
  await world.relaying.collectCargo(cca);
  await expect(world.relaying.collectCargo(cca)).rejects.toBeInstanceOf(CcaReusedError);
  expect(world.relayingLogger.find('warn', /CCA refused/)).toHaveLength(1);

  const restarted = new RelayingGateway({
    identity: { privateKey: world.relayingNode.keyPair.privateKey, certificate: world.relayingNode.certificate },
    stores: world.relayingStores,
    clock: world.clock,
  });
  await expect(restarted.collectCargo(cca)).rejects.toThrow(/already used/);
  await expect(restarted.collectCargo(await world.user.generateCca())).resolves.toBeTruthy();
});

test('a CCA addressed to another gateway is refused', async () => {
  await expect(world.relaying.collectCargo(await craftCca({ recipientId: world.user.id }))).rejects.toBeInstanceOf(
    CcaWrongRecipientError,
  );
});

test('an expired CCA is refused; one dated far in the future is honoured, once', async () => {
  const cca = await world.user.generateCca();
  world.clock.advance(DEFAULT_CCA_TTL_SECONDS * 1000);
  await expect(world.relaying.collectCargo(cca)).rejects.toBeInstanceOf(CcaTimingError);

  // A user gateway whose clock is days ahead: its CCA is genuine, and the cargo collected with it is how
  // the user learns that the clock is wrong (gateway/src/clockSkew.ts). Replays are still refused.
  world.clock.set(new Date(world.clock.now().getTime() - DEFAULT_CCA_TTL_SECONDS * 1000));
  const future = await craftCca({ creationDate: new Date(world.clock.now().getTime() + 72 * HOUR) });
  expect((await world.relaying.collectCargo(future)).userGatewayId).toBe(world.user.id);
  await expect(world.relaying.collectCargo(future)).rejects.toBeInstanceOf(CcaReusedError);
});

test('a forged CCA (self-issued sender certificate) is refused', async () => {
  const [rogueKeys] = world.spareKeys;
  const now = world.clock.now().getTime();
  const selfIssued = await issueGatewayCertificate({
    subjectPublicKey: rogueKeys.publicKey,
    issuerPrivateKey: rogueKeys.privateKey,
    validityStartDate: new Date(now - 4 * HOUR),
    validityEndDate: new Date(now + 48 * HOUR),
  });
  const forged = craftCca({ signer: { keyPair: rogueKeys, certificate: selfIssued } });
  await expect(world.relaying.collectCargo(await forged)).rejects.toBeInstanceOf(CcaUnauthorizedSenderError);

  // Same key as a registered gateway would not help either: the certificate must be the registered one.
  const lookalike = await issueGatewayCertificate({
    subjectPublicKey: rogueKeys.publicKey,
    issuerPrivateKey: world.relayingNode.keyPair.privateKey,
    issuerCertificate: world.relayingNode.certificate,
    validityStartDate: new Date(now - 4 * HOUR),
    validityEndDate: new Date(now + 48 * HOUR),
  });
  await expect(
    world.relaying.collectCargo(await craftCca({ signer: { keyPair: rogueKeys, certificate: lookalike } })),
  ).rejects.toThrow(/not a user gateway registered here/);
  // An endpoint of a registered gateway is not a gateway.
  await expect(world.relaying.collectCargo(await craftCca({ signer: world.app }))).rejects.toBeInstanceOf(
    CcaUnauthorizedSenderError,
  );
});

test('a CCA whose CDA is for another key is refused; garbage is malformed', async () => {
  await expect(
    world.relaying.collectCargo(await craftCca({ cdaSubjectKey: world.spareKeys[0].publicKey })),
  ).rejects.toBeInstanceOf(InvalidCdaError);
  const tampered = Buffer.from(await world.user.generateCca());
  tampered[tampered.length - 3] ^= 1;
  await expect(world.relaying.collectCargo(tampered)).rejects.toBeInstanceOf(MalformedCcaError);
  await expect(world.relaying.collectCargo(Buffer.from('nope'))).rejects.toBeInstanceOf(MalformedCcaError);
});

test('every CCA refusal is a GatewayError with a specific class', () => {
  for (const ErrorClass of [
    MalformedCcaError,
    CcaTimingError,
    CcaWrongRecipientError,
    CcaUnauthorizedSenderError,
    CcaReusedError,
    InvalidCdaError,
  ]) {
    const error = new ErrorClass('x');
    expect(error).toBeInstanceOf(CcaRefusedError);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toBeInstanceOf(RelaynetError);
    expect(error.name).toBe(ErrorClass.name);
  }
});
