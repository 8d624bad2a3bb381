/**
 * PKI.js as an independent oracle for the CMS values: it reads what core writes and core reads what it writes, for
 * SignedData (RSA-PSS) and EnvelopedData, sessionless (RSA-OAEP) and with a channel session (ECDH), at 1 KiB and
 * at 8 MiB. It is not used in
 * production (README, "Dependencies"): with Node's WebCrypto it is many times slower and needs more memory.
 */
import { randomBytes, webcrypto, type KeyObject } from 'node:crypto';

import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

import { AWALA_OIDS, CMS_OIDS } from '../oids';
import type { Certificate } from '../pki/Certificate';
import { derSerializePublicKey, generateSessionKeyPair } from '../pki/keys';
import { getPkiFixture } from '../testUtils/pki';
import { decryptSessionless, decryptWithSessionKey, encryptSessionless, encryptWithSessionKey } from './envelopedData';
import { signSignedData, verifySignedData } from './signedData';

const SIZES = [
  ['1 KiB', 1024],
  ['8 MiB', 8 * 1024 * 1024],
] as const;

let signerKey: KeyObject;
let signerCertificate: Certificate;
let pkijsSignerCertificate: pkijs.Certificate;

beforeAll(async () => {
  pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as Crypto }));
  const pki = await getPkiFixture();
  signerKey = pki.privateEndpoint.keyPair.privateKey;
  signerCertificate = pki.privateEndpoint.certificate;
  pkijsSignerCertificate = pkijs.Certificate.fromBER(toArrayBuffer(signerCertificate.serialize()));
});

function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** With asn1js's default limits: core writes the content as one OCTET STRING, whatever its size. */
function pkijsContentInfo(der: Buffer): pkijs.ContentInfo {
  return pkijs.ContentInfo.fromBER(toArrayBuffer(der));
}

function pkcs8(key: KeyObject): ArrayBuffer {
  return toArrayBuffer(key.export({ format: 'der', type: 'pkcs8' }));
}

describe.each(SIZES)('SignedData of %s', (_size, length) => {
  test('PKI.js verifies what core signs', async () => {
    const plaintext = randomBytes(length);
    const der = await signSignedData(plaintext, signerKey, signerCertificate);

    const contentInfo = pkijsContentInfo(der);
    expect(contentInfo.contentType).toBe(CMS_OIDS.SIGNED_DATA);
    const signedData = new pkijs.SignedData({ schema: contentInfo.content });
    const verification = await signedData.verify({ signer: 0, checkChain: false, extendedMode: true });
    expect(verification.signatureVerified).toBe(true);
    expect(verification.signerCertificate?.serialNumber.isEqual(pkijsSignerCertificate.serialNumber)).toBe(true);
    const content = signedData.encapContentInfo.eContent!.getValue();
    expect(Buffer.from(content).equals(plaintext)).toBe(true);
  });

  test('core verifies what PKI.js signs', async () => {
    const plaintext = randomBytes(length);
    const privateKey = await webcrypto.subtle.importKey(
      'pkcs8',
      pkcs8(signerKey),
      { name: 'RSA-PSS', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    const signedData = new pkijs.SignedData({
      version: 1,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({
        eContentType: CMS_OIDS.DATA,
        eContent: new asn1js.OctetString({ valueHex: toArrayBuffer(plaintext) }),
      }),
      signerInfos: [
        new pkijs.SignerInfo({
          version: 1,
          sid: new pkijs.IssuerAndSerialNumber({
            issuer: pkijsSignerCertificate.issuer,
            serialNumber: pkijsSignerCertificate.serialNumber,
          }),
        }),
      ],
      certificates: [pkijsSignerCertificate],
    });
    const digest = await webcrypto.subtle.digest('SHA-256', plaintext);
    signedData.signerInfos[0].signedAttrs = new pkijs.SignedAndUnsignedAttributes({
      type: 0,
      attributes: [
        new pkijs.Attribute({
          type: CMS_OIDS.ATTR_CONTENT_TYPE,
          values: [new asn1js.ObjectIdentifier({ value: CMS_OIDS.DATA })],
        }),
        new pkijs.Attribute({
          type: CMS_OIDS.ATTR_MESSAGE_DIGEST,
          values: [new asn1js.OctetString({ valueHex: digest })],
        }),
      ],
    });
    await signedData.sign(privateKey, 0, 'SHA-256');
    const der = Buffer.from(
      new pkijs.ContentInfo({ contentType: CMS_OIDS.SIGNED_DATA, content: signedData.toSchema(true) })
        .toSchema()
        .toBER(),
    );

    const verification = await verifySignedData(der);
    expect(verification.plaintext.equals(plaintext)).toBe(true);
    expect(verification.signerCertificate.serialize().equals(signerCertificate.serialize())).toBe(true);
  });
});

describe.each(SIZES)('sessionless EnvelopedData of %s', (_size, length) => {
  test('PKI.js decrypts what core encrypts', async () => {
    const plaintext = randomBytes(length);
    const der = await encryptSessionless(plaintext, signerCertificate);

    const contentInfo = pkijsContentInfo(der);
    expect(contentInfo.contentType).toBe(CMS_OIDS.ENVELOPED_DATA);
    const envelopedData = new pkijs.EnvelopedData({ schema: contentInfo.content });
    const decrypted = await envelopedData.decrypt(0, {
      recipientCertificate: pkijsSignerCertificate,
      recipientPrivateKey: pkcs8(signerKey),
    });
    expect(Buffer.from(decrypted).equals(plaintext)).toBe(true);
  });

  test('core decrypts what PKI.js encrypts', async () => {
    const plaintext = randomBytes(length);
    const envelopedData = new pkijs.EnvelopedData();
    envelopedData.addRecipientByCertificate(pkijsSignerCertificate, { oaepHashAlgorithm: 'SHA-256' }, 1);
    await envelopedData.encrypt({ name: 'AES-CBC', length: 128 } as AesKeyAlgorithm, toArrayBuffer(plaintext));
    const der = Buffer.from(
      new pkijs.ContentInfo({ contentType: CMS_OIDS.ENVELOPED_DATA, content: envelopedData.toSchema() })
        .toSchema()
        .toBER(),
    );

    expect((await decryptSessionless(der, signerKey)).equals(plaintext)).toBe(true);
    if (length > 1024 * 1024) {
      // PKI.js writes large content as 1 KiB pieces, one node each: asn1js 3.0.9+ refuses its own value unless
      // its node limit (10,000 by default) is raised. A measured reason why core does not use them (README).
      expect(asn1js.fromBER(der).offset).toBe(-1);
      expect(asn1js.fromBER(der, { maxNodes: 100_000 }).offset).toBe(der.length);
    }
  });
});

describe.each(SIZES)('channel-session EnvelopedData of %s', (_size, length) => {
  test('PKI.js decrypts what core encrypts', async () => {
    const plaintext = randomBytes(length);
    const recipient = await generateSessionKeyPair();
    const { envelopedData: der } = await encryptWithSessionKey(plaintext, recipient.sessionKey);

    const envelopedData = new pkijs.EnvelopedData({ schema: pkijsContentInfo(der).content });
    const decrypted = await envelopedData.decrypt(0, { recipientPrivateKey: pkcs8(recipient.privateKey) });
    expect(Buffer.from(decrypted).equals(plaintext)).toBe(true);
  });

  test('core decrypts what PKI.js encrypts', async () => {
    const plaintext = randomBytes(length);
    const recipient = await generateSessionKeyPair();
    const originatorKeyId = randomBytes(8);
    const recipientPublicKey = await webcrypto.subtle.importKey(
      'spki',
      toArrayBuffer(derSerializePublicKey(recipient.sessionKey.publicKey)),
      { name: 'ECDH', namedCurve: 'P-256' },
      true,
      [],
    );
    const envelopedData = new pkijs.EnvelopedData();
    envelopedData.addRecipientByKeyIdentifier(recipientPublicKey, toArrayBuffer(recipient.sessionKey.keyId));
    await envelopedData.encrypt({ name: 'AES-CBC', length: 128 } as AesKeyAlgorithm, toArrayBuffer(plaintext));
    // Awala names the originator's key in an unprotected attribute, as the reference implementation writes it.
    envelopedData.unprotectedAttrs = [
      new pkijs.Attribute({
        type: AWALA_OIDS.ORIGINATOR_SESSION_KEY_ID,
        values: [new asn1js.OctetString({ valueHex: toArrayBuffer(originatorKeyId) })],
      }),
    ];
    const der = Buffer.from(
      new pkijs.ContentInfo({ contentType: CMS_OIDS.ENVELOPED_DATA, content: envelopedData.toSchema() })
        .toSchema()
        .toBER(),
    );

    const result = await decryptWithSessionKey(der, recipient.privateKey);
    expect(result.plaintext.equals(plaintext)).toBe(true);
    expect(result.originatorSessionKey.keyId.equals(originatorKeyId)).toBe(true);
  });
});
