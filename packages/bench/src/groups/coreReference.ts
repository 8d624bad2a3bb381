/**
 * The same operations with @relaycorp/relaynet-core@1.88.2, the baseline. Keys cross to it only
 * as PKCS#8/SPKI DER (it has its own WebCrypto implementation), certificates as DER.
 *
 * The reference no longer unwraps sessionless payloads in `unwrapPayload`, so the sessionless
 * unwrap decrypts the EnvelopedData directly (with an RSA-OAEP import of the same key).
 */
import * as ref from '@relaycorp/relaynet-core';
import {
  derSerializePrivateKey,
  derSerializePublicKey,
  type Certificate,
  type SessionKeyPair,
} from '@twitter-relaynet/core';
import type { KeyObject } from 'node:crypto';

import type { CoreFixture } from './coreFixture';
import { GATEWAY_ADDRESS, SERVICE_MESSAGE_TYPE, toArrayBuffer, type CoreOps } from './coreShared';

const refCertificate = (certificate: Certificate) =>
  ref.Certificate.deserialize(toArrayBuffer(certificate.serialize()));
const pssKey = (key: KeyObject) =>
  ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(key), { name: 'RSA-PSS', hash: { name: 'SHA-256' } });
const oaepKey = (key: KeyObject) =>
  ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(key), { name: 'RSA-OAEP', hash: { name: 'SHA-256' } });

async function sessionPair(pair: SessionKeyPair): Promise<{ sessionKey: ref.SessionKey; privateKey: CryptoKey }> {
  return {
    sessionKey: {
      keyId: pair.sessionKey.keyId,
      publicKey: await ref.derDeserializeECDHPublicKey(derSerializePublicKey(pair.sessionKey.publicKey)),
    },
    privateKey: await ref.derDeserializeECDHPrivateKey(derSerializePrivateKey(pair.privateKey)),
  };
}

export async function makeReferenceOps(fixture: CoreFixture): Promise<CoreOps> {
  const igCert = refCertificate(fixture.internetGateway.certificate);
  const pgCert = refCertificate(fixture.privateGateway.certificate);
  const peCert = refCertificate(fixture.privateEndpoint.certificate);
  const pda = refCertificate(fixture.publicEndpoint.certificate);
  const senderKey = await pssKey(fixture.publicEndpoint.keyPair.privateKey);
  const gatewayKey = await pssKey(fixture.privateGateway.keyPair.privateKey);
  const recipientOaepKey = await oaepKey(fixture.privateEndpoint.keyPair.privateKey);
  const peSession = await sessionPair(fixture.privateEndpointSession);
  const igSession = await sessionPair(fixture.internetGatewaySession);
  const peId = fixture.privateEndpoint.certificate.calculateSubjectId();
  const igId = fixture.internetGateway.certificate.calculateSubjectId();

  return {
    async serializeParcel(mode, content) {
      const plaintext = new ref.ServiceMessage(SERVICE_MESSAGE_TYPE, content).serialize();
      const envelopedData =
        mode === 'sessionless'
          ? await ref.SessionlessEnvelopedData.encrypt(plaintext, peCert)
          : (await ref.SessionEnvelopedData.encrypt(plaintext, peSession.sessionKey)).envelopedData;
      const parcel = new ref.Parcel({ id: peId }, pda, Buffer.from(envelopedData.serialize()), {
        senderCaCertificateChain: [peCert],
      });
      return Buffer.from(await parcel.serialize(senderKey));
    },

    async unwrapParcel(mode, serialized) {
      const parcel = await ref.Parcel.deserialize(toArrayBuffer(serialized));
      await parcel.validate([peCert]);
      if (mode === 'session') {
        const { payload } = await parcel.unwrapPayload(peSession.privateKey);
        return payload.content;
      }
      const envelopedData = ref.EnvelopedData.deserialize(toArrayBuffer(parcel.payloadSerialized));
      return ref.ServiceMessage.deserialize(await envelopedData.decrypt(recipientOaepKey)).content;
    },

    async buildCargo(parcels) {
      const messageSet = new ref.CargoMessageSet(parcels.map(toArrayBuffer));
      const { envelopedData } = await ref.SessionEnvelopedData.encrypt(messageSet.serialize(), igSession.sessionKey);
      const cargo = new ref.Cargo(
        { id: igId, internetAddress: GATEWAY_ADDRESS },
        pgCert,
        Buffer.from(envelopedData.serialize()),
      );
      return Buffer.from(await cargo.serialize(gatewayKey));
    },

    async unwrapCargo(serialized) {
      const cargo = await ref.Cargo.deserialize(toArrayBuffer(serialized));
      await cargo.validate([igCert]);
      const { payload } = await cargo.unwrapPayload(igSession.privateKey);
      const items = await Promise.all(payload.messages.map((message) => ref.CargoMessageSet.deserializeItem(message)));
      return items.length;
    },
  };
}
