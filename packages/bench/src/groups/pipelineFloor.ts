/**
 * The raw-crypto floor of one parcel's trip through the network, with node:crypto only (the
 * primitives of the core group's floor): what the sender, the two gateways and the recipient must
 * at least compute for each parcel, with nothing else around it (no DER, no I/O, no queues).
 *
 * - the sender: session encryption (ephemeral ECDH P-256, key wrap, AES) and one RSA-PSS signature;
 * - each gateway: the parcel's signature and its sender certificate's (two RSA-PSS verifications);
 * - the recipient: the same two verifications, then ECDH and the decryption.
 *
 * Left out, in the floor's favour: the cargo's own crypto (one signature, verification and
 * decryption per cargo of up to ~8 MiB, shared by its parcels) and longer certificate chains.
 */
import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';

import { floorSerializeSession, floorUnwrap, rsaPssSign, rsaPssVerify, type FloorKeys } from './coreFloor';

/** Gateways a parcel crosses (user gateway, relaying gateway). */
export const GATEWAYS_CROSSED = 2;

function keyPair(type: 'rsa' | 'ec'): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      error ? reject(error) : resolve({ publicKey, privateKey });
    if (type === 'rsa') generateKeyPair('rsa', { modulusLength: 2048 }, done);
    else generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
  });
}

export async function makeTripFloorKeys(): Promise<FloorKeys> {
  const [sender, issuer, recipient, session] = await Promise.all([
    keyPair('rsa'),
    keyPair('rsa'),
    keyPair('rsa'),
    keyPair('ec'),
  ]);
  // Stands for the sender certificate's TBS (about this long with a 2048-bit key).
  const senderCertificateTbs = randomBytes(700);
  return {
    senderPrivateKey: sender.privateKey,
    senderPublicKey: sender.publicKey,
    issuerPublicKey: issuer.publicKey,
    recipientRsaPublicKey: recipient.publicKey,
    recipientRsaPrivateKey: recipient.privateKey,
    recipientSessionPublicKey: session.publicKey,
    recipientSessionPrivateKey: session.privateKey,
    senderCertificateTbs,
    senderCertificateSignature: await rsaPssSign(senderCertificateTbs, issuer.privateKey),
  };
}

/** One parcel's trip, crypto only; resolves to the plaintext the recipient decrypted. */
export async function floorParcelTrip(keys: FloorKeys, plaintext: Buffer): Promise<Buffer> {
  const message = await floorSerializeSession(keys, plaintext);
  for (let gateway = 0; gateway < GATEWAYS_CROSSED; gateway++) {
    // The parcel's signature and its sender certificate's: two RSA-2048 verifications, whose cost
    // does not depend on the data verified, so the certificate's stands for both.
    await rsaPssVerify(keys.senderCertificateTbs, keys.issuerPublicKey, keys.senderCertificateSignature);
    await rsaPssVerify(keys.senderCertificateTbs, keys.issuerPublicKey, keys.senderCertificateSignature);
  }
  return floorUnwrap(keys, message);
}
