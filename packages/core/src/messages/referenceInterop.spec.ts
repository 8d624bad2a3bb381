/**
 * RAMF interoperability with the reference implementation, @relaycorp/relaynet-core@1.88.2, in
 * both directions. Keys cross the boundary only as PKCS#8/SPKI DER: the reference library uses
 * its own WebCrypto polyfill and cannot use node's KeyObjects.
 */
import * as ref from '@relaycorp/relaynet-core';

import {
  derSerializePrivateKey,
  derSerializePublicKey,
  generateSessionKeyPair,
  type SessionKeyPair,
} from '../pki/keys';
import { derDeserializeEcdhPrivateKey, derDeserializeEcdhPublicKey } from '../pki/keys';
import { Certificate } from '../pki/Certificate';
import { encryptPayload } from '../ramf/payloadEncryption';
import { getPkiFixture, type PkiFixture } from '../testUtils/pki';
import { Cargo } from './Cargo';
import { CargoCollectionAuthorization } from './CargoCollectionAuthorization';
import { Parcel } from './Parcel';
import { ParcelCollectionAck } from './ParcelCollectionAck';
import { CargoMessageSet } from './payloads/CargoMessageSet';
import { CargoCollectionRequest } from './payloads/CargoCollectionRequest';
import { ServiceMessage } from './payloads/ServiceMessage';

const toArrayBuffer = (buffer: Buffer): ArrayBuffer =>
  buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;

const refCertificate = (certificate: Certificate): ref.Certificate =>
  ref.Certificate.deserialize(toArrayBuffer(certificate.serialize()));

const ourCertificate = (certificate: ref.Certificate): Certificate =>
  Certificate.deserialize(Buffer.from(certificate.serialize()));

const refRsaKey = (key: Parameters<typeof derSerializePrivateKey>[0]) =>
  ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(key), { name: 'RSA-PSS', hash: { name: 'SHA-256' } });

const refRsaOaepKey = (key: Parameters<typeof derSerializePrivateKey>[0]) =>
  ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(key), { name: 'RSA-OAEP', hash: { name: 'SHA-256' } });

let pki: PkiFixture;
let session: SessionKeyPair;
const ADDRESS = 'adapter.relaynet.test';

beforeAll(async () => {
  pki = await getPkiFixture();
  session = await generateSessionKeyPair();
});

async function refSessionKey(pair: SessionKeyPair): Promise<{ sessionKey: ref.SessionKey; privateKey: CryptoKey }> {
  return {
    sessionKey: {
      keyId: pair.sessionKey.keyId,
      publicKey: await ref.derDeserializeECDHPublicKey(derSerializePublicKey(pair.sessionKey.publicKey)),
    },
    privateKey: await ref.derDeserializeECDHPrivateKey(derSerializePrivateKey(pair.privateKey)),
  };
}

describe('parcels', () => {
  test('ours → reference: fields, signature, authorization and session payload', async () => {
    const message = new ServiceMessage('application/vnd.test', Buffer.from('from us'));
    const { envelopedData } = await encryptPayload(message.serialize(), { sessionKey: session.sessionKey });
    const parcel = new Parcel(
      { id: pki.privateEndpoint.certificate.calculateSubjectId() },
      pki.publicEndpoint.pda,
      envelopedData,
      { id: 'ours-1', ttl: 600, senderCaCertificateChain: [pki.privateEndpoint.certificate] },
    );
    const serialized = await parcel.serialize(pki.publicEndpoint.keyPair.privateKey);

    const theirs = await ref.Parcel.deserialize(toArrayBuffer(serialized));
    expect(theirs.id).toBe('ours-1');
    expect(theirs.ttl).toBe(600);
    expect(theirs.recipient.id).toBe(parcel.recipient.id);
    expect(theirs.creationDate).toEqual(parcel.creationDate);
    await expect(theirs.validate([refCertificate(pki.privateEndpoint.certificate)])).resolves.toHaveLength(2);

    const { privateKey } = await refSessionKey(session);
    const { payload } = await theirs.unwrapPayload(privateKey);
    expect(payload.type).toBe('application/vnd.test');
    expect(payload.content.toString()).toBe('from us');
  });

  test('ours → reference: sessionless payload, public recipient', async () => {
    const message = new ServiceMessage('text/plain', Buffer.from('sessionless'));
    const { envelopedData } = await encryptPayload(message.serialize(), {
      certificate: pki.publicEndpoint.certificate,
    });
    const parcel = new Parcel(
      { id: pki.publicEndpoint.certificate.calculateSubjectId(), internetAddress: ADDRESS },
      pki.privateEndpoint.certificate,
      envelopedData,
      { senderCaCertificateChain: [pki.privateGateway.certificate] },
    );
    const theirs = await ref.Parcel.deserialize(
      toArrayBuffer(await parcel.serialize(pki.privateEndpoint.keyPair.privateKey)),
    );
    expect(theirs.recipient.internetAddress).toBe(ADDRESS);
    const enveloped = ref.EnvelopedData.deserialize(toArrayBuffer(theirs.payloadSerialized));
    const plaintext = await enveloped.decrypt(await refRsaOaepKey(pki.publicEndpoint.keyPair.privateKey));
    const serviceMessage = ref.ServiceMessage.deserialize(plaintext);
    expect(serviceMessage.content.toString()).toBe('sessionless');
  });

  test('reference → ours: fields, signature, authorization and session payload', async () => {
    const { sessionKey } = await refSessionKey(session);
    const plaintext = new ref.ServiceMessage('application/vnd.ref', Buffer.from('from them')).serialize();
    const { envelopedData } = await ref.SessionEnvelopedData.encrypt(plaintext, sessionKey);
    const theirs = new ref.Parcel(
      { id: pki.privateEndpoint.certificate.calculateSubjectId() },
      refCertificate(pki.publicEndpoint.pda),
      Buffer.from(envelopedData.serialize()),
      { id: 'theirs-1', ttl: 1200, senderCaCertificateChain: [refCertificate(pki.privateEndpoint.certificate)] },
    );
    const serialized = Buffer.from(await theirs.serialize(await refRsaKey(pki.publicEndpoint.keyPair.privateKey)));

    const ours = await Parcel.deserialize(serialized);
    expect(ours.id).toBe('theirs-1');
    expect(ours.ttl).toBe(1200);
    expect(ours.creationDate).toEqual(theirs.creationDate);
    await expect(ours.validate([pki.privateEndpoint.certificate])).resolves.toHaveLength(2);
    const { payload, senderSessionKey } = await ours.unwrapPayload(session.privateKey);
    expect(payload.type).toBe('application/vnd.ref');
    expect(payload.content.toString()).toBe('from them');
    expect(senderSessionKey).not.toBeNull();
  });

  test('reference → ours: sessionless payload made by the reference', async () => {
    const plaintext = new ref.ServiceMessage('text/plain', Buffer.from('ref sessionless')).serialize();
    const enveloped = await ref.SessionlessEnvelopedData.encrypt(
      plaintext,
      refCertificate(pki.publicEndpoint.certificate),
    );
    const theirs = new ref.Parcel(
      { id: pki.publicEndpoint.certificate.calculateSubjectId(), internetAddress: ADDRESS },
      refCertificate(pki.privateEndpoint.certificate),
      Buffer.from(enveloped.serialize()),
    );
    const ours = await Parcel.deserialize(
      Buffer.from(await theirs.serialize(await refRsaKey(pki.privateEndpoint.keyPair.privateKey))),
    );
    expect(ours.recipient).toEqual({ id: theirs.recipient.id, internetAddress: ADDRESS });
    const { payload } = await ours.unwrapPayload(pki.publicEndpoint.keyPair.privateKey);
    expect(payload.content.toString()).toBe('ref sessionless');
  });

  test('a 7 MiB payload crosses in both directions', async () => {
    const content = Buffer.alloc(7 * 1024 * 1024);
    for (let i = 0; i < content.length; i += 4096) content[i] = i & 0xff;

    // Ours → reference: our DER decrypts in the reference at full size.
    const ourPlaintext = new ServiceMessage('application/octet-stream', content).serialize();
    const { envelopedData } = await encryptPayload(ourPlaintext, { sessionKey: session.sessionKey });
    const ourParcel = new Parcel(
      { id: pki.privateEndpoint.certificate.calculateSubjectId() },
      pki.publicEndpoint.pda,
      envelopedData,
      { senderCaCertificateChain: [pki.privateEndpoint.certificate] },
    );
    const theirCopy = await ref.Parcel.deserialize(
      toArrayBuffer(await ourParcel.serialize(pki.publicEndpoint.keyPair.privateKey)),
    );
    const { privateKey, sessionKey } = await refSessionKey(session);
    const unwrapped = await theirCopy.unwrapPayload(privateKey);
    expect(unwrapped.payload.content.equals(content)).toBe(true);

    // Reference → ours: we read the reference's chunked BER at full size.
    const refPlaintext = new ref.ServiceMessage('application/octet-stream', content).serialize();
    const refEnveloped = await ref.SessionEnvelopedData.encrypt(refPlaintext, sessionKey);
    const theirParcel = new ref.Parcel(
      { id: pki.privateEndpoint.certificate.calculateSubjectId() },
      refCertificate(pki.publicEndpoint.pda),
      Buffer.from(refEnveloped.envelopedData.serialize()),
    );
    const ours = await Parcel.deserialize(
      Buffer.from(await theirParcel.serialize(await refRsaKey(pki.publicEndpoint.keyPair.privateKey))),
    );
    const { payload } = await ours.unwrapPayload(session.privateKey);
    expect(payload.content.equals(content)).toBe(true);
  }, 60_000);
});

describe('cargo', () => {
  test('ours → reference: several parcels and a PCA', async () => {
    const parcels = await Promise.all(
      ['a', 'b', 'c'].map(async (id) => {
        const parcel = new Parcel(
          { id: pki.publicEndpoint.certificate.calculateSubjectId(), internetAddress: ADDRESS },
          pki.privateEndpoint.certificate,
          Buffer.from(id),
          { id },
        );
        return parcel.serialize(pki.privateEndpoint.keyPair.privateKey);
      }),
    );
    const pca = new ParcelCollectionAck('0aaa', '0bbb', 'p1').serialize();
    // As the gateways encrypt it: the message set's chunks, not joined first.
    const { envelopedData } = await encryptPayload(new CargoMessageSet([...parcels, pca]).serializeChunks(), {
      certificate: pki.internetGateway.certificate,
    });
    const cargo = new Cargo(
      { id: pki.internetGateway.certificate.calculateSubjectId() },
      pki.privateGateway.certificate,
      envelopedData,
    );
    const theirs = await ref.Cargo.deserialize(
      toArrayBuffer(await cargo.serialize(pki.privateGateway.keyPair.privateKey)),
    );
    await expect(theirs.validate([refCertificate(pki.internetGateway.certificate)])).resolves.toHaveLength(2);
    const enveloped = ref.EnvelopedData.deserialize(toArrayBuffer(theirs.payloadSerialized));
    const set = ref.CargoMessageSet.deserialize(
      await enveloped.decrypt(await refRsaOaepKey(pki.internetGateway.keyPair.privateKey)),
    );
    expect(set.messages.map((m) => Buffer.from(m))).toEqual([...parcels, pca]);
    const items = await Promise.all(set.messages.map((m) => ref.CargoMessageSet.deserializeItem(m)));
    expect(items.map((item) => item.constructor.name)).toEqual(['Parcel', 'Parcel', 'Parcel', 'ParcelCollectionAck']);
  });

  test('reference → ours: several parcels and a PCA', async () => {
    const senderKey = await refRsaKey(pki.privateEndpoint.keyPair.privateKey);
    const parcels = await Promise.all(
      ['x', 'y'].map(async (id) =>
        Buffer.from(
          await new ref.Parcel(
            { id: pki.publicEndpoint.certificate.calculateSubjectId(), internetAddress: ADDRESS },
            refCertificate(pki.privateEndpoint.certificate),
            Buffer.from(id),
            { id },
          ).serialize(senderKey),
        ),
      ),
    );
    const pca = Buffer.from(new ref.ParcelCollectionAck('0aaa', '0bbb', 'p2').serialize());
    const set = new ref.CargoMessageSet([...parcels, pca].map(toArrayBuffer));
    const enveloped = await ref.SessionlessEnvelopedData.encrypt(
      set.serialize(),
      refCertificate(pki.internetGateway.certificate),
    );
    const theirs = new ref.Cargo(
      { id: pki.internetGateway.certificate.calculateSubjectId() },
      refCertificate(pki.privateGateway.certificate),
      Buffer.from(enveloped.serialize()),
    );
    const ours = await Cargo.deserialize(
      Buffer.from(await theirs.serialize(await refRsaKey(pki.privateGateway.keyPair.privateKey))),
    );
    await expect(ours.validate([pki.internetGateway.certificate])).resolves.toHaveLength(2);
    const { payload } = await ours.unwrapPayload(pki.internetGateway.keyPair.privateKey);
    expect(payload.messages).toEqual([...parcels, pca]);
    expect((await Parcel.deserialize(payload.messages[1])).id).toBe('y');
    expect(ParcelCollectionAck.deserialize(payload.messages[2])).toEqual(new ParcelCollectionAck('0aaa', '0bbb', 'p2'));
  });
});

describe('cargo collection authorizations', () => {
  test('ours → reference', async () => {
    const request = new CargoCollectionRequest(pki.publicEndpoint.pda);
    const { envelopedData } = await encryptPayload(request.serialize(), {
      certificate: pki.internetGateway.certificate,
    });
    const cca = new CargoCollectionAuthorization(
      { id: pki.internetGateway.certificate.calculateSubjectId(), internetAddress: 'gw.example.com' },
      pki.privateGateway.certificate,
      envelopedData,
    );
    const theirs = await ref.CargoCollectionAuthorization.deserialize(
      toArrayBuffer(await cca.serialize(pki.privateGateway.keyPair.privateKey)),
    );
    expect(theirs.recipient.internetAddress).toBe('gw.example.com');
    const enveloped = ref.EnvelopedData.deserialize(toArrayBuffer(theirs.payloadSerialized));
    const ccr = ref.CargoCollectionRequest.deserialize(
      await enveloped.decrypt(await refRsaOaepKey(pki.internetGateway.keyPair.privateKey)),
    );
    expect(ourCertificate(ccr.cargoDeliveryAuthorization).isEqual(pki.publicEndpoint.pda)).toBe(true);
  });

  test('reference → ours', async () => {
    const request = new ref.CargoCollectionRequest(refCertificate(pki.publicEndpoint.pda));
    const enveloped = await ref.SessionlessEnvelopedData.encrypt(
      request.serialize(),
      refCertificate(pki.internetGateway.certificate),
    );
    const theirs = new ref.CargoCollectionAuthorization(
      { id: pki.internetGateway.certificate.calculateSubjectId() },
      refCertificate(pki.privateGateway.certificate),
      Buffer.from(enveloped.serialize()),
    );
    const ours = await CargoCollectionAuthorization.deserialize(
      Buffer.from(await theirs.serialize(await refRsaKey(pki.privateGateway.keyPair.privateKey))),
    );
    const { payload } = await ours.unwrapPayload(pki.internetGateway.keyPair.privateKey);
    expect(payload.cargoDeliveryAuthorization.isEqual(pki.publicEndpoint.pda)).toBe(true);
  });
});

describe('parcel collection acknowledgements', () => {
  test('both directions, byte for byte', () => {
    const ours = new ParcelCollectionAck('0123', '0456', 'parcel-id').serialize();
    const theirs = Buffer.from(new ref.ParcelCollectionAck('0123', '0456', 'parcel-id').serialize());
    expect(ours).toEqual(theirs);
    expect(ref.ParcelCollectionAck.deserialize(toArrayBuffer(ours)).parcelId).toBe('parcel-id');
    expect(ParcelCollectionAck.deserialize(theirs).senderEndpointId).toBe('0123');
  });
});

describe('service messages and session keys', () => {
  test('service messages are byte for byte identical', () => {
    const ours = new ServiceMessage('text/plain', Buffer.from('x')).serialize();
    expect(Buffer.from(new ref.ServiceMessage('text/plain', Buffer.from('x')).serialize())).toEqual(ours);
  });

  test('session keys survive a DER round trip through the reference', async () => {
    const refPair = await ref.SessionKeyPair.generate();
    const spki = await ref.derSerializePublicKey(refPair.sessionKey.publicKey);
    const pkcs8 = await ref.derSerializePrivateKey(refPair.privateKey);
    expect(derSerializePublicKey(derDeserializeEcdhPublicKey(spki))).toEqual(spki);
    expect(derDeserializeEcdhPrivateKey(pkcs8).asymmetricKeyType).toBe('ec');
  });
});
