/**
 * Real RAMF cargo and CCAs made with @twitter-relaynet/core (the pattern of core's testUtils/pki.ts):
 * a relaying (Internet) gateway with a self-issued certificate and a user (private) gateway it certified.
 */
import { randomBytes } from 'node:crypto';

import {
  Cargo,
  CargoCollectionAuthorization,
  CargoCollectionRequest,
  CargoMessageSet,
  type Certificate,
  encryptPayload,
  generateRsaKeyPair,
  issueDeliveryAuthorization,
  issueGatewayCertificate,
  type KeyPair,
  ParcelCollectionAck,
} from '@twitter-relaynet/core';

export interface Node {
  readonly keyPair: KeyPair;
  readonly certificate: Certificate;
}

export interface World {
  readonly relaying: Node;
  readonly user: Node;
}

let worldPromise: Promise<World> | undefined;

/** Generated once per test file (key generation is slow): call from beforeAll. */
export function getWorld(): Promise<World> {
  worldPromise ??= makeWorld();
  return worldPromise;
}

async function makeWorld(): Promise<World> {
  const [relayingKeys, userKeys] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  const now = Math.floor(Date.now() / 1000) * 1000;
  const dates = { validityStartDate: new Date(now - 3_600_000), validityEndDate: new Date(now + 30 * 86_400_000) };
  const relayingCert = await issueGatewayCertificate({
    ...dates,
    subjectPublicKey: relayingKeys.publicKey,
    issuerPrivateKey: relayingKeys.privateKey,
  });
  const userCert = await issueGatewayCertificate({
    ...dates,
    subjectPublicKey: userKeys.publicKey,
    issuerPrivateKey: relayingKeys.privateKey,
    issuerCertificate: relayingCert,
  });
  return {
    relaying: { keyPair: relayingKeys, certificate: relayingCert },
    user: { keyPair: userKeys, certificate: userCert },
  };
}

/**
 * Cargo from one gateway to the other, encrypted for the recipient, carrying `items` (default: one
 * parcel collection ack) plus `paddingOctets` of random filler to make it big.
 */
export async function makeCargo(
  world: World,
  from: 'user' | 'relaying',
  options: { paddingOctets?: number } = {},
): Promise<Buffer> {
  const sender = from === 'user' ? world.user : world.relaying;
  const recipient = from === 'user' ? world.relaying : world.user;
  const items = [new ParcelCollectionAck('0aaa', '0bbb', `parcel-${randomBytes(4).toString('hex')}`).serialize()];
  if (options.paddingOctets) items.push(randomBytes(options.paddingOctets));
  const { envelopedData } = await encryptPayload(new CargoMessageSet(items).serialize(), {
    certificate: recipient.certificate,
  });
  const cargo = new Cargo({ id: recipient.certificate.calculateSubjectId() }, sender.certificate, envelopedData, {
    ttl: 86_400,
    senderCaCertificateChain: from === 'user' ? [world.relaying.certificate] : [],
  });
  return cargo.serialize(sender.keyPair.privateKey);
}

/** A CCA the user gateway issues for a relayer to present at the relaying gateway. */
export async function makeCca(world: World): Promise<Buffer> {
  const cda = await issueDeliveryAuthorization({
    subjectPublicKey: world.relaying.certificate.publicKey,
    issuerPrivateKey: world.user.keyPair.privateKey,
    issuerCertificate: world.user.certificate,
    validityEndDate: new Date(Date.now() + 86_400_000),
  });
  const { envelopedData } = await encryptPayload(new CargoCollectionRequest(cda).serialize(), {
    certificate: world.relaying.certificate,
  });
  const cca = new CargoCollectionAuthorization(
    { id: world.relaying.certificate.calculateSubjectId() },
    world.user.certificate,
    envelopedData,
    { ttl: 3600 },
  );
  return cca.serialize(world.user.keyPair.privateKey);
}

/** A valid RAMF message that is neither cargo nor a CCA (a parcel collection ack, type 0x51). */
export function makeParcelCollectionAck(): Buffer {
  return new ParcelCollectionAck('0aaa', '0bbb', 'parcel-1').serialize();
}
