import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

import * as ref from '@relaycorp/relaynet-core';

import { Asn1Element, decodeAsn1, TagClass, UniversalTag } from '../asn1/decode';
import { implicit, integer, nullValue, octetString, oid, sequence, setOf, tlv } from '../asn1/encode';
import { Asn1SyntaxError, CryptoError, RelaynetSyntaxError } from '../errors';
import { ALGORITHM_OIDS, AWALA_OIDS, CMS_OIDS } from '../oids';
import type { Certificate } from '../pki/Certificate';
import {
  derSerializePrivateKey,
  derSerializePublicKey,
  generateSessionKeyPair,
  type SessionKeyPair,
} from '../pki/keys';
import { getPkiFixture, getWeakRsaKeyPair, type PkiFixture } from '../testUtils/pki';
import { aesCbcEncrypt, aesKeyWrap, eccCmsSharedInfo, encodeAesCbcAlgorithmIdentifier, x963Kdf } from './algorithms';
import {
  decryptSessionless,
  decryptWithSessionKey,
  encryptSessionless,
  encryptWithSessionKey,
  inspectEnvelopedData,
} from './envelopedData';

const PLAINTEXT = Buffer.from('Tweet: hello from the other side of the flashdrive');
const LARGE_PAYLOAD_LENGTH = 7 * 1024 * 1024 + 123;

let pki: PkiFixture;
let recipientCert: Certificate;
let recipientKey: KeyObject;
let otherRsaKey: KeyObject;
let sessionKeyPair: SessionKeyPair;
let otherSessionKeyPair: SessionKeyPair;
let p384SessionKeyPair: SessionKeyPair;

beforeAll(async () => {
  pki = await getPkiFixture();
  recipientCert = pki.privateGateway.certificate;
  recipientKey = pki.privateGateway.keyPair.privateKey;
  otherRsaKey = pki.internetGateway.keyPair.privateKey;
  [sessionKeyPair, otherSessionKeyPair, p384SessionKeyPair] = await Promise.all([
    generateSessionKeyPair(),
    generateSessionKeyPair(),
    generateSessionKeyPair('P-384'),
  ]);
});

// ---------------------------------------------------------------------------------------------
// Helpers

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length) as ArrayBuffer;
}

function child(element: Asn1Element, ...path: number[]): Asn1Element {
  return path.reduce((node, index) => node.children[index], element);
}

/** Offset of `element` inside `whole` (both views of the same decoded buffer). */
function offsetOf(whole: Buffer, element: Asn1Element): number {
  return element.encoded.byteOffset - whole.byteOffset;
}

/** Replace the EnvelopedData items (version, recipientInfos, encryptedContentInfo, …). */
function rebuild(der: Buffer, edit: (items: Buffer[]) => Buffer[]): Buffer {
  const items = child(decodeAsn1(der, { ber: true }), 1, 0).children.map((item) => item.encoded);
  return sequence(oid(CMS_OIDS.ENVELOPED_DATA), tlv(TagClass.Context, true, 0, sequence(...edit(items))));
}

function refRsaKey(privateKey: KeyObject): Promise<CryptoKey> {
  return ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(privateKey));
}

function refSessionKey(keyPair: SessionKeyPair): Promise<ref.SessionKey> {
  return ref
    .derDeserializeECDHPublicKey(derSerializePublicKey(keyPair.sessionKey.publicKey), 'P-256')
    .then((publicKey) => ({ keyId: keyPair.sessionKey.keyId, publicKey }));
}

async function refSessionKeyPairAsOurs(): Promise<{ refPair: ref.SessionKeyPair; ours: SessionKeyPair }> {
  const refPair = await ref.SessionKeyPair.generate();
  const publicKey = createPublicKey({
    key: await ref.derSerializePublicKey(refPair.sessionKey.publicKey),
    format: 'der',
    type: 'spki',
  });
  const privateKey = createPrivateKey({
    key: await ref.derSerializePrivateKey(refPair.privateKey),
    format: 'der',
    type: 'pkcs8',
  });
  return { refPair, ours: { sessionKey: { keyId: refPair.sessionKey.keyId, publicKey }, privateKey } };
}

function spki(key: KeyObject): Buffer {
  return derSerializePublicKey(key);
}

interface CraftSessionOptions {
  readonly ukm: Buffer | null;
  readonly nullInSharedInfo?: boolean;
  readonly nullOnWire?: boolean;
  readonly originatorWithoutCurve?: boolean;
}

/**
 * A session EnvelopedData built field by field from the primitives (RFC 5753), to exercise forms
 * other producers write: no UKM, NULL key wrap parameters, an originator key without its curve.
 */
function craftSessionEnvelopedData(recipient: SessionKeyPair, options: CraftSessionOptions): Buffer {
  const ephemeral = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const sharedSecret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient.sessionKey.publicKey });
  const sharedInfo = eccCmsSharedInfo(ALGORITHM_OIDS.AES256_KW, 256, options.ukm, options.nullInSharedInfo ?? false);
  const kek = x963Kdf('SHA-512', sharedSecret, 32, sharedInfo);
  const contentKey = randomBytes(16);
  const iv = randomBytes(16);
  const ephemeralSpki = decodeAsn1(spki(ephemeral.publicKey));
  const originatorKey = options.originatorWithoutCurve
    ? tlv(TagClass.Context, true, 1, [sequence(oid(ALGORITHM_OIDS.EC_PUBLIC_KEY)), child(ephemeralSpki, 1).encoded])
    : implicit(1, ephemeralSpki.encoded);
  const recipientInfo = implicit(
    1,
    sequence(
      integer(3),
      tlv(TagClass.Context, true, 0, originatorKey),
      ...(options.ukm ? [tlv(TagClass.Context, true, 1, octetString(options.ukm))] : []),
      sequence(
        oid(ALGORITHM_OIDS.DH_SINGLE_PASS_STD_DH_SHA512_KDF),
        sequence(oid(ALGORITHM_OIDS.AES256_KW), ...(options.nullOnWire ? [nullValue()] : [])),
      ),
      sequence(
        sequence(
          implicit(0, sequence(octetString(recipient.sessionKey.keyId))),
          octetString(aesKeyWrap(kek, contentKey)),
        ),
      ),
    ),
  );
  const encryptedContentInfo = sequence(
    oid(CMS_OIDS.DATA),
    encodeAesCbcAlgorithmIdentifier(128, iv),
    tlv(TagClass.Context, false, 0, Buffer.concat(aesCbcEncrypt(contentKey, iv, PLAINTEXT))),
  );
  const attributes = tlv(TagClass.Context, true, 1, [
    sequence(oid(AWALA_OIDS.ORIGINATOR_SESSION_KEY_ID), setOf(octetString(Buffer.from('originator')))),
  ]);
  return sequence(
    oid(CMS_OIDS.ENVELOPED_DATA),
    tlv(TagClass.Context, true, 0, sequence(integer(2), setOf(recipientInfo), encryptedContentInfo, attributes)),
  );
}

// ---------------------------------------------------------------------------------------------

describe('sessionless (KeyTransRecipientInfo)', () => {
  test('round trip', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);

    await expect(decryptSessionless(der, recipientKey)).resolves.toEqual(PLAINTEXT);
  });

  test.each([128, 192, 256] as const)('AES-%i-CBC', async (aesKeySize) => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert, { aesKeySize });

    const algorithm = child(decodeAsn1(der), 1, 0, 2, 1, 0);
    expect(algorithm.encoded).toEqual(
      oid(
        { 128: ALGORITHM_OIDS.AES128_CBC, 192: ALGORITHM_OIDS.AES192_CBC, 256: ALGORITHM_OIDS.AES256_CBC }[aesKeySize],
      ),
    );
    await expect(decryptSessionless(der, recipientKey)).resolves.toEqual(PLAINTEXT);
  });

  test('empty plaintext', async () => {
    const der = await encryptSessionless(Buffer.alloc(0), recipientCert);

    await expect(decryptSessionless(der, recipientKey)).resolves.toEqual(Buffer.alloc(0));
  });

  test('writes strict DER with the layout of the reference implementation', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);

    const root = decodeAsn1(der); // DER mode
    expect(child(root, 0).encoded).toEqual(oid(CMS_OIDS.ENVELOPED_DATA));
    const envelopedData = child(root, 1, 0);
    expect(envelopedData.children).toHaveLength(3);
    expect(child(envelopedData, 0).encoded).toEqual(integer(2));
    const recipientInfo = child(envelopedData, 1, 0);
    expect(child(recipientInfo, 0).encoded).toEqual(integer(0));
    expect(child(recipientInfo, 1).encoded).toEqual(
      sequence(
        recipientCert.issuerName,
        tlv(TagClass.Universal, false, UniversalTag.INTEGER, recipientCert.serialNumber),
      ),
    );
    expect(child(recipientInfo, 2, 0).encoded).toEqual(oid(ALGORITHM_OIDS.RSA_OAEP));
    expect(child(recipientInfo, 3).content).toHaveLength(256);
    const encryptedContent = child(envelopedData, 2, 2);
    expect(encryptedContent.is(TagClass.Context, 0)).toBe(true);
    expect(encryptedContent.constructed).toBe(false);
    expect(encryptedContent.content.length).toBe(Math.ceil((PLAINTEXT.length + 1) / 16) * 16);
  });

  test('inspection names the recipient certificate', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);

    expect(inspectEnvelopedData(der)).toEqual({
      kind: 'sessionless',
      recipientCertificateSerialNumber: recipientCert.serialNumber,
      recipientCertificateIssuerName: recipientCert.issuerName,
    });
  });

  test('the wrong private key gives a CryptoError', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);

    await expect(decryptSessionless(der, otherRsaKey)).rejects.toThrow(CryptoError);
    await expect(decryptSessionless(der, otherRsaKey)).rejects.toThrow(/wrong private key/);
  });

  test('an EC key gives a CryptoError', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);

    await expect(decryptSessionless(der, sessionKeyPair.privateKey)).rejects.toThrow(/must be an RSA key/);
  });

  test('a tampered encrypted key gives a CryptoError', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);
    const encryptedKey = child(decodeAsn1(der), 1, 0, 1, 0, 3);
    const tampered = Buffer.from(der);
    tampered[offsetOf(der, encryptedKey) + 20] ^= 0x80;

    await expect(decryptSessionless(tampered, recipientKey)).rejects.toThrow(CryptoError);
  });

  test('session-encrypted values are refused with a clear error', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    await expect(decryptSessionless(envelopedData, recipientKey)).rejects.toThrow(
      /channel session.*decrypt it with the session key/,
    );
  });

  test('a weak recipient certificate key is refused', async () => {
    const weak = { ...recipientCert, publicKey: getWeakRsaKeyPair().publicKey } as unknown as Certificate;

    await expect(encryptSessionless(PLAINTEXT, weak)).rejects.toThrow(/2048/);
  });

  test('invalid AES key sizes are refused', async () => {
    await expect(encryptSessionless(PLAINTEXT, recipientCert, { aesKeySize: 512 as never })).rejects.toThrow(
      /Invalid AES key size/,
    );
  });

  test('PKCS#1 v1.5 key transport is refused', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);
    const tampered = rebuild(der, ([version, recipientInfos, content]) => {
      const info = child(decodeAsn1(recipientInfos), 0).children.map((c) => c.encoded);
      info[2] = sequence(oid(ALGORITHM_OIDS.RSA_ENCRYPTION), nullValue());
      return [version, setOf(sequence(...info)), content];
    });

    await expect(decryptSessionless(tampered, recipientKey)).rejects.toThrow(/RSA-OAEP only/);
  });

  test('a content encryption algorithm outside the allow-list is refused', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);
    const gcm = Buffer.from(der);
    const oidAt = gcm.indexOf(oid(ALGORITHM_OIDS.AES128_CBC));
    gcm[oidAt + oid(ALGORITHM_OIDS.AES128_CBC).length - 1] = 0x06; // …1.2 (CBC) → …1.6 (GCM)

    await expect(decryptSessionless(gcm, recipientKey)).rejects.toThrow(/AES-128-GCM.*not allowed/);
  });

  test('truncated input is a syntax error', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);

    await expect(decryptSessionless(der.subarray(0, der.length - 3), recipientKey)).rejects.toThrow(Asn1SyntaxError);
    expect(() => inspectEnvelopedData(der.subarray(0, 30))).toThrow(/Truncated/);
  });

  test('trailing garbage is a syntax error', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);

    await expect(decryptSessionless(Buffer.concat([der, Buffer.from([0, 0])]), recipientKey)).rejects.toThrow(
      /Trailing data/,
    );
  });

  test('two RecipientInfos are refused', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);
    const doubled = rebuild(der, ([version, recipientInfos, content]) => {
      const info = child(decodeAsn1(recipientInfos), 0).encoded;
      return [version, setOf(info, info), content];
    });

    expect(() => inspectEnvelopedData(doubled)).toThrow(/exactly one RecipientInfo, got 2/);
  });

  test('missing encrypted content is refused', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);
    const detached = rebuild(der, ([version, recipientInfos, content]) => {
      const [type, algorithm] = decodeAsn1(content).children.map((c) => c.encoded);
      return [version, recipientInfos, sequence(type, algorithm)];
    });

    await expect(decryptSessionless(detached, recipientKey)).rejects.toThrow(/no encrypted content/);
  });

  test('a SignedData ContentInfo is refused', () => {
    const der = sequence(oid(CMS_OIDS.SIGNED_DATA), tlv(TagClass.Context, true, 0, sequence()));

    expect(() => inspectEnvelopedData(der)).toThrow(RelaynetSyntaxError);
  });
});

describe('channel session (KeyAgreeRecipientInfo)', () => {
  test('round trip returns the originator key', async () => {
    const result = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    const { plaintext, originatorSessionKey } = await decryptWithSessionKey(
      result.envelopedData,
      sessionKeyPair.privateKey,
    );

    expect(plaintext).toEqual(PLAINTEXT);
    expect(originatorSessionKey.keyId).toEqual(result.dhKeyId);
    expect(spki(originatorSessionKey.publicKey)).toEqual(spki(result.dhPrivateKey));
    expect(result.dhKeyId).toHaveLength(8);
    expect(result.dhPrivateKey.type).toBe('private');
  });

  test.each([128, 192, 256] as const)('AES-%i-CBC', async (aesKeySize) => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey, { aesKeySize });

    const decrypted = await decryptWithSessionKey(envelopedData, sessionKeyPair.privateKey);

    expect(decrypted.plaintext).toEqual(PLAINTEXT);
  });

  test('P-384 session keys', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, p384SessionKeyPair.sessionKey);

    const decrypted = await decryptWithSessionKey(envelopedData, p384SessionKeyPair.privateKey);

    expect(decrypted.plaintext).toEqual(PLAINTEXT);
    expect(decrypted.originatorSessionKey.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });

  test('the reply can be encrypted with the originator key the recipient learnt', async () => {
    const first = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);
    const { originatorSessionKey } = await decryptWithSessionKey(first.envelopedData, sessionKeyPair.privateKey);

    const reply = await encryptWithSessionKey(Buffer.from('reply'), originatorSessionKey);

    const decrypted = await decryptWithSessionKey(reply.envelopedData, first.dhPrivateKey);
    expect(decrypted.plaintext.toString()).toBe('reply');
  });

  test('writes strict DER with the layout of the reference implementation', async () => {
    const { envelopedData, dhKeyId, dhPrivateKey } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    const root = decodeAsn1(envelopedData); // DER mode
    const items = child(root, 1, 0).children;
    expect(items).toHaveLength(4);
    expect(items[0].encoded).toEqual(integer(2));
    const recipientInfo = child(items[1], 0);
    expect(recipientInfo.is(TagClass.Context, 1)).toBe(true);
    expect(child(recipientInfo, 0).encoded).toEqual(integer(3));
    // originator [0] { originatorKey [1] { algorithm, publicKey } } = the ephemeral SPKI, re-tagged
    const originatorKey = child(recipientInfo, 1, 0);
    expect(originatorKey.is(TagClass.Context, 1)).toBe(true);
    expect(Buffer.concat([Buffer.from([0x30]), originatorKey.encoded.subarray(1)])).toEqual(spki(dhPrivateKey));
    const ukm = child(recipientInfo, 2); // random, 64 octets, as PKI.js writes it
    expect(ukm.is(TagClass.Context, 1)).toBe(true);
    expect(child(ukm, 0).content).toHaveLength(64);
    expect(child(recipientInfo, 3).encoded.toString('hex')).toBe(
      '301506062b8104010b03300b060960864801650304012d', // dhSinglePass-stdDH-sha512kdf + aes256-wrap
    );
    const encryptedKey = child(recipientInfo, 4, 0);
    expect(child(encryptedKey, 0).encoded).toEqual(
      tlv(TagClass.Context, true, 0, octetString(sessionKeyPair.sessionKey.keyId)),
    );
    expect(child(encryptedKey, 1).content).toHaveLength(24);
    expect(child(items[2], 2).constructed).toBe(false);
    expect(items[3].encoded).toEqual(
      tlv(TagClass.Context, true, 1, sequence(oid(AWALA_OIDS.ORIGINATOR_SESSION_KEY_ID), setOf(octetString(dhKeyId)))),
    );
  });

  test('inspection gives both key ids and the originator key without decrypting', async () => {
    const { envelopedData, dhKeyId, dhPrivateKey } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    const kind = inspectEnvelopedData(envelopedData);

    expect(kind.kind).toBe('session');
    if (kind.kind !== 'session') return;
    expect(kind.recipientSessionKeyId).toEqual(sessionKeyPair.sessionKey.keyId);
    expect(kind.originatorSessionKey.keyId).toEqual(dhKeyId);
    expect(spki(kind.originatorSessionKey.publicKey)).toEqual(spki(dhPrivateKey));
  });

  test('the wrong session private key gives a CryptoError', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    const attempt = decryptWithSessionKey(envelopedData, otherSessionKeyPair.privateKey);

    await expect(attempt).rejects.toThrow(CryptoError);
    await expect(decryptWithSessionKey(envelopedData, otherSessionKeyPair.privateKey)).rejects.toThrow(
      /wrong session private key/,
    );
  });

  test('the recipient key id tells the wrong key apart before decrypting', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    const kind = inspectEnvelopedData(envelopedData);

    expect(kind.kind === 'session' && kind.recipientSessionKeyId).not.toEqual(otherSessionKeyPair.sessionKey.keyId);
  });

  test('a private key on another curve gives a CryptoError', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    await expect(decryptWithSessionKey(envelopedData, p384SessionKeyPair.privateKey)).rejects.toThrow(CryptoError);
  });

  test('an RSA private key gives a CryptoError', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    await expect(decryptWithSessionKey(envelopedData, recipientKey)).rejects.toThrow(/must be an EC key/);
  });

  test('a tampered wrapped key gives a CryptoError', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);
    const wrapped = child(decodeAsn1(envelopedData), 1, 0, 1, 0, 4, 0, 1);
    const tampered = Buffer.from(envelopedData);
    tampered[offsetOf(envelopedData, wrapped) + 5] ^= 1;

    await expect(decryptWithSessionKey(tampered, sessionKeyPair.privateKey)).rejects.toThrow(CryptoError);
  });

  test('sessionless values are refused with a clear error', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert);

    await expect(decryptWithSessionKey(der, sessionKeyPair.privateKey)).rejects.toThrow(
      /sessionless.*certificate private key/,
    );
  });

  test('a missing originator key id is refused', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);
    const stripped = rebuild(envelopedData, (items) => items.slice(0, 3));

    await expect(decryptWithSessionKey(stripped, sessionKeyPair.privateKey)).rejects.toThrow(
      /lacks the originator session key id/,
    );
    expect(() => inspectEnvelopedData(stripped)).toThrow(RelaynetSyntaxError);
  });

  test('an originator key id written as an INTEGER (as RS-003 words it) is read', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);
    const keyId = Buffer.from('0102030405060708', 'hex');
    const withInteger = rebuild(envelopedData, (items) => [
      ...items.slice(0, 3),
      tlv(TagClass.Context, true, 1, [
        sequence(
          oid(AWALA_OIDS.ORIGINATOR_SESSION_KEY_ID),
          setOf(tlv(TagClass.Universal, false, UniversalTag.INTEGER, keyId)),
        ),
      ]),
    ]);

    const { originatorSessionKey } = await decryptWithSessionKey(withInteger, sessionKeyPair.privateKey);

    expect(originatorSessionKey.keyId).toEqual(keyId);
  });

  test('the recipient must be a public EC key on an allowed curve', async () => {
    const ed25519 = generateKeyPairSync('ed25519').publicKey;
    const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;

    await expect(encryptWithSessionKey(PLAINTEXT, { keyId: Buffer.alloc(8), publicKey: ed25519 })).rejects.toThrow(
      CryptoError,
    );
    await expect(encryptWithSessionKey(PLAINTEXT, { keyId: Buffer.alloc(8), publicKey: secp256k1 })).rejects.toThrow(
      /allowed: P-256/,
    );
  });

  test('values without a UKM (plain RFC 5753) are read', async () => {
    const der = craftSessionEnvelopedData(sessionKeyPair, { ukm: null });

    const { plaintext, originatorSessionKey } = await decryptWithSessionKey(der, sessionKeyPair.privateKey);

    expect(plaintext).toEqual(PLAINTEXT);
    expect(originatorSessionKey.keyId.toString()).toBe('originator');
  });

  test('the UKM goes into the KDF', async () => {
    const der = craftSessionEnvelopedData(sessionKeyPair, { ukm: Buffer.alloc(64, 1) });
    const otherUkm = Buffer.from(der);
    otherUkm[otherUkm.indexOf(Buffer.alloc(64, 1))] = 2;

    await expect(decryptWithSessionKey(der, sessionKeyPair.privateKey)).resolves.toBeDefined();
    await expect(decryptWithSessionKey(otherUkm, sessionKeyPair.privateKey)).rejects.toThrow(CryptoError);
  });

  test.each([
    ['in the SharedInfo only', { nullInSharedInfo: true, nullOnWire: false }],
    ['on the wire and in the SharedInfo', { nullInSharedInfo: true, nullOnWire: true }],
    ['on the wire only', { nullInSharedInfo: false, nullOnWire: true }],
  ])('NULL key wrap parameters %s are tolerated', async (_, nulls) => {
    const der = craftSessionEnvelopedData(sessionKeyPair, { ukm: randomBytes(8), ...nulls });

    await expect(decryptWithSessionKey(der, sessionKeyPair.privateKey)).resolves.toMatchObject({
      plaintext: PLAINTEXT,
    });
  });

  test('an originator key without its curve takes the recipient key curve', async () => {
    const der = craftSessionEnvelopedData(sessionKeyPair, { ukm: null, originatorWithoutCurve: true });

    await expect(decryptWithSessionKey(der, sessionKeyPair.privateKey)).resolves.toMatchObject({
      plaintext: PLAINTEXT,
    });
    expect(() => inspectEnvelopedData(der)).toThrow(/does not name its curve/);
  });

  test('trailing garbage and truncation are syntax errors', async () => {
    const { envelopedData } = await encryptWithSessionKey(PLAINTEXT, sessionKeyPair.sessionKey);

    expect(() => inspectEnvelopedData(Buffer.concat([envelopedData, Buffer.from([1])]))).toThrow(Asn1SyntaxError);
    await expect(
      decryptWithSessionKey(envelopedData.subarray(0, envelopedData.length - 1), sessionKeyPair.privateKey),
    ).rejects.toThrow(Asn1SyntaxError);
  });
});

describe('interoperability with @relaycorp/relaynet-core', () => {
  let refRecipientCert: ref.Certificate;
  let refRecipientKey: CryptoKey;

  beforeAll(async () => {
    refRecipientCert = ref.Certificate.deserialize(toArrayBuffer(recipientCert.serialize()));
    refRecipientKey = await refRsaKey(recipientKey);
  });

  test('sessionless: ours → reference', async () => {
    const der = await encryptSessionless(PLAINTEXT, recipientCert, { aesKeySize: 256 });

    const refEnvelopedData = ref.EnvelopedData.deserialize(toArrayBuffer(der));

    expect(refEnvelopedData).toBeInstanceOf(ref.SessionlessEnvelopedData);
    expect(refEnvelopedData.getRecipientKeyId()).toEqual(recipientCert.serialNumber);
    expect(Buffer.from(await refEnvelopedData.decrypt(refRecipientKey))).toEqual(PLAINTEXT);
  });

  test.each([128, 192, 256])('sessionless: reference (AES-%i) → ours', async (aesKeySize) => {
    const refEnvelopedData = await ref.SessionlessEnvelopedData.encrypt(toArrayBuffer(PLAINTEXT), refRecipientCert, {
      aesKeySize,
    });
    const der = Buffer.from(refEnvelopedData.serialize());

    expect(inspectEnvelopedData(der)).toMatchObject({
      kind: 'sessionless',
      recipientCertificateSerialNumber: recipientCert.serialNumber,
    });
    await expect(decryptSessionless(der, recipientKey)).resolves.toEqual(PLAINTEXT);
  });

  test('session: ours → reference', async () => {
    const { refPair, ours } = await refSessionKeyPairAsOurs();
    const { envelopedData, dhKeyId, dhPrivateKey } = await encryptWithSessionKey(PLAINTEXT, ours.sessionKey);

    const refEnvelopedData = ref.EnvelopedData.deserialize(toArrayBuffer(envelopedData));

    expect(refEnvelopedData).toBeInstanceOf(ref.SessionEnvelopedData);
    const refSession = refEnvelopedData as ref.SessionEnvelopedData;
    expect(refSession.getRecipientKeyId()).toEqual(ours.sessionKey.keyId);
    const originatorKey = await refSession.getOriginatorKey();
    expect(Buffer.from(originatorKey.keyId)).toEqual(dhKeyId);
    expect(await ref.derSerializePublicKey(originatorKey.publicKey)).toEqual(spki(dhPrivateKey));
    expect(Buffer.from(await refSession.decrypt(refPair.privateKey))).toEqual(PLAINTEXT);
  });

  test('session: reference → ours', async () => {
    const refRecipient = await refSessionKey(sessionKeyPair);
    const { envelopedData, dhKeyId, dhPrivateKey } = await ref.SessionEnvelopedData.encrypt(
      toArrayBuffer(PLAINTEXT),
      refRecipient,
    );
    const der = Buffer.from(envelopedData.serialize());

    const kind = inspectEnvelopedData(der);
    expect(kind).toMatchObject({ kind: 'session', recipientSessionKeyId: sessionKeyPair.sessionKey.keyId });
    const { plaintext, originatorSessionKey } = await decryptWithSessionKey(der, sessionKeyPair.privateKey);
    expect(plaintext).toEqual(PLAINTEXT);
    expect(originatorSessionKey.keyId).toEqual(Buffer.from(dhKeyId));
    expect(spki(originatorSessionKey.publicKey)).toEqual(await ref.derSerializePublicKey(dhPrivateKey));
    await expect(decryptWithSessionKey(der, otherSessionKeyPair.privateKey)).rejects.toThrow(CryptoError);
  });

  describe('7 MiB payloads', () => {
    let payload: Buffer;

    beforeAll(() => {
      payload = Buffer.alloc(LARGE_PAYLOAD_LENGTH);
      for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff;
    });

    test('sessionless: ours (one DER OCTET STRING) → reference', async () => {
      const der = await encryptSessionless(payload, recipientCert);

      const decrypted = await ref.EnvelopedData.deserialize(toArrayBuffer(der)).decrypt(refRecipientKey);

      expect(Buffer.from(decrypted).equals(payload)).toBe(true);
    });

    test('sessionless: reference (chunked BER) → ours', async () => {
      const refEnvelopedData = await ref.SessionlessEnvelopedData.encrypt(toArrayBuffer(payload), refRecipientCert);
      const ber = Buffer.from(refEnvelopedData.serialize());
      expect(ber[1]).toBe(0x80); // indefinite length: really BER

      const plaintext = await decryptSessionless(ber, recipientKey);
      expect(plaintext.equals(payload)).toBe(true); // not toEqual: Jest compares octet by octet
    });

    test('session: ours → reference and reference → ours', async () => {
      const { refPair, ours } = await refSessionKeyPairAsOurs();
      const { envelopedData } = await encryptWithSessionKey(payload, ours.sessionKey);
      const decrypted = await ref.EnvelopedData.deserialize(toArrayBuffer(envelopedData)).decrypt(refPair.privateKey);
      expect(Buffer.from(decrypted).equals(payload)).toBe(true);

      const theirs = await ref.SessionEnvelopedData.encrypt(
        toArrayBuffer(payload),
        await refSessionKey(sessionKeyPair),
      );
      const ber = Buffer.from(theirs.envelopedData.serialize());
      const ours2 = await decryptWithSessionKey(ber, sessionKeyPair.privateKey);
      expect(ours2.plaintext.equals(payload)).toBe(true);
    });
  });
});
