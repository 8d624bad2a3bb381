import { constants, createHash, sign as nodeSign, type KeyObject } from 'node:crypto';

import * as ref from '@relaycorp/relaynet-core';
import { SignedData as RefSignedData } from '@relaycorp/relaynet-core/build/main/lib/crypto/cms/signedData';

import { Asn1Element, decodeAsn1, TagClass, UniversalTag } from '../asn1/decode';
import {
  encodeLength,
  implicit,
  integer,
  integerFromContent,
  nullValue,
  octetString,
  oid,
  sequence,
  setOf,
  tlv,
} from '../asn1/encode';
import { Asn1SyntaxError, CryptoError, RelaynetSyntaxError } from '../errors';
import { ALGORITHM_OIDS, CMS_OIDS } from '../oids';
import { Certificate } from '../pki/Certificate';
import { derSerializePrivateKey } from '../pki/keys';
import { getPkiFixture, getWeakRsaKeyPair, pssAlgorithmIdentifier, type PkiFixture } from '../testUtils/pki';
import { signSignedData, verifySignedData } from './signedData';

const PLAINTEXT = Buffer.from('Hello, Awala');
const SHA1_OID = '1.3.14.3.2.26';

let pki: PkiFixture;
let signerKey: KeyObject;
let signerCert: Certificate;
let caCerts: Certificate[];
let otherCert: Certificate;

beforeAll(async () => {
  pki = await getPkiFixture();
  signerKey = pki.privateEndpoint.keyPair.privateKey;
  signerCert = pki.privateEndpoint.certificate;
  caCerts = [pki.privateGateway.certificate, pki.internetGateway.certificate];
  otherCert = pki.publicEndpoint.certificate;
});

// ---------------------------------------------------------------------------------------------
// Helpers

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length) as ArrayBuffer;
}

function refCertificate(certificate: Certificate): ref.Certificate {
  return ref.Certificate.deserialize(toArrayBuffer(certificate.serialize()));
}

function refSigningKey(privateKey: KeyObject): Promise<CryptoKey> {
  return ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(privateKey), {
    name: 'RSA-PSS',
    hash: { name: 'SHA-256' },
  });
}

/** Walk the decoded tree along child indexes. */
function child(element: Asn1Element, ...path: number[]): Asn1Element {
  return path.reduce((node, index) => node.children[index], element);
}

/**
 * Re-encode a DER value as BER: indefinite lengths everywhere, OCTET STRINGs split in chunks.
 * Values in `keepDer` (certificates, whose signatures cover their DER) are left alone.
 */
function toBer(der: Buffer, keepDer: readonly Buffer[] = [], chunkSize = 1000): Buffer {
  const convert = (element: Asn1Element): Buffer[] => {
    const identifier = element.encoded[0];
    if (keepDer.some((value) => value.equals(element.encoded))) return [element.encoded];
    if (element.constructed) {
      return [Buffer.from([identifier, 0x80]), ...element.children.flatMap(convert), Buffer.from([0, 0])];
    }
    if (element.isUniversal(UniversalTag.OCTET_STRING) && element.content.length > chunkSize) {
      const chunks: Buffer[] = [Buffer.from([0x24, 0x80])];
      for (let offset = 0; offset < element.content.length; offset += chunkSize) {
        const piece = element.content.subarray(offset, offset + chunkSize);
        chunks.push(Buffer.from([0x04]), encodeLength(piece.length), piece);
      }
      chunks.push(Buffer.from([0, 0]));
      return chunks;
    }
    return [element.encoded];
  };
  return Buffer.concat(convert(decodeAsn1(der)));
}

interface SignerInfoOptions {
  readonly plaintext?: Buffer;
  readonly certificate?: Certificate;
  readonly privateKey?: KeyObject;
  readonly digestOid?: string;
  readonly digestValue?: Buffer;
  readonly scheme?: 'pss' | 'pkcs1';
  readonly attributes?: Buffer[];
  readonly omitAttributes?: boolean;
  readonly sid?: Buffer;
}

function attribute(type: string, value: Buffer): Buffer {
  return sequence(oid(type), setOf(value));
}

/** A SignerInfo built by hand, so that each field can be made wrong on purpose. */
function craftSignerInfo(options: SignerInfoOptions = {}): Buffer {
  const certificate = options.certificate ?? signerCert;
  const digestOid = options.digestOid ?? ALGORITHM_OIDS.SHA256;
  const digestValue =
    options.digestValue ??
    createHash(digestOid === SHA1_OID ? 'sha1' : 'sha256')
      .update(options.plaintext ?? PLAINTEXT)
      .digest();
  const attributes = setOf(
    ...(options.attributes ?? [
      attribute(CMS_OIDS.ATTR_CONTENT_TYPE, oid(CMS_OIDS.DATA)),
      attribute(CMS_OIDS.ATTR_MESSAGE_DIGEST, octetString(digestValue)),
    ]),
  );
  const scheme = options.scheme ?? 'pss';
  const toSign = options.omitAttributes ? (options.plaintext ?? PLAINTEXT) : attributes;
  const signature =
    scheme === 'pss'
      ? nodeSign('sha256', toSign, {
          key: options.privateKey ?? signerKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 32,
        })
      : nodeSign('sha256', toSign, options.privateKey ?? signerKey);
  const signatureAlgorithm =
    scheme === 'pss' ? pssAlgorithmIdentifier() : sequence(oid(ALGORITHM_OIDS.SHA256_WITH_RSA), nullValue());
  return sequence(
    integer(1),
    options.sid ?? sequence(certificate.issuerName, integerFromContent(certificate.serialNumber)),
    sequence(oid(digestOid), nullValue()),
    ...(options.omitAttributes ? [] : [implicit(0, attributes)]),
    signatureAlgorithm,
    octetString(signature),
  );
}

interface SignedDataOptions {
  readonly plaintext?: Buffer | null;
  readonly digestOids?: string[];
  readonly certificates?: Certificate[] | null;
  readonly rawCertificates?: Buffer[];
  readonly signerInfos?: Buffer[];
  readonly contentType?: string;
}

function craftSignedData(options: SignedDataOptions = {}): Buffer {
  const plaintext = options.plaintext === undefined ? PLAINTEXT : options.plaintext;
  const certificates =
    options.rawCertificates ??
    (options.certificates === undefined ? [signerCert] : options.certificates)?.map((c) => c.serialize());
  const signedData = sequence(
    integer(1),
    setOf(...(options.digestOids ?? [ALGORITHM_OIDS.SHA256]).map((o) => sequence(oid(o), nullValue()))),
    sequence(
      oid(options.contentType ?? CMS_OIDS.DATA),
      ...(plaintext ? [tlv(TagClass.Context, true, 0, octetString(plaintext))] : []),
    ),
    ...(certificates ? [tlv(TagClass.Context, true, 0, certificates)] : []),
    setOf(...(options.signerInfos ?? [craftSignerInfo()])),
  );
  return sequence(oid(CMS_OIDS.SIGNED_DATA), tlv(TagClass.Context, true, 0, signedData));
}

// ---------------------------------------------------------------------------------------------

describe('signSignedData', () => {
  test('produces strict DER: ContentInfo(SignedData) with the plaintext as one primitive OCTET STRING', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);

    const contentInfo = decodeAsn1(der); // DER mode: no indefinite lengths, minimal lengths
    expect(child(contentInfo, 0).encoded).toEqual(oid(CMS_OIDS.SIGNED_DATA));
    const signedData = child(contentInfo, 1, 0);
    expect(child(signedData, 0).content).toEqual(Buffer.from([1]));
    const eContent = child(signedData, 2, 1, 0);
    expect(eContent.isUniversal(UniversalTag.OCTET_STRING)).toBe(true);
    expect(eContent.constructed).toBe(false);
    expect(eContent.content).toEqual(PLAINTEXT);
  });

  test('identifies the signer by issuer and serial number and signs content type + digest', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);

    const signerInfo = child(decodeAsn1(der), 1, 0, 4, 0);
    expect(child(signerInfo, 1).encoded).toEqual(
      sequence(signerCert.issuerName, integerFromContent(signerCert.serialNumber)),
    );
    expect(child(signerInfo, 2).encoded).toEqual(sequence(oid(ALGORITHM_OIDS.SHA256), nullValue()));
    const attributes = child(signerInfo, 3);
    expect(attributes.is(TagClass.Context, 0)).toBe(true);
    expect(attributes.children.map((a) => a.encoded)).toEqual([
      attribute(CMS_OIDS.ATTR_CONTENT_TYPE, oid(CMS_OIDS.DATA)),
      attribute(CMS_OIDS.ATTR_MESSAGE_DIGEST, octetString(createHash('sha256').update(PLAINTEXT).digest())),
    ]);
    expect(child(signerInfo, 4).encoded).toEqual(pssAlgorithmIdentifier());
  });

  test('attaches the signer certificate first, then the CA certificates', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, caCerts);

    const certificates = child(decodeAsn1(der), 1, 0, 3);
    expect(certificates.children.map((c) => c.encoded)).toEqual([
      signerCert.serialize(),
      ...caCerts.map((c) => c.serialize()),
    ]);
  });

  test('detached signatures leave eContent out', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, [], { encapsulatePlaintext: false });

    expect(child(decodeAsn1(der), 1, 0, 2).children).toHaveLength(1);
  });

  test('refuses SHA-1', async () => {
    await expect(
      signSignedData(PLAINTEXT, signerKey, signerCert, [], { hashingAlgorithm: 'SHA-1' as never }),
    ).rejects.toThrow(CryptoError);
  });

  test('refuses RSA keys under 2048 bits', async () => {
    await expect(signSignedData(PLAINTEXT, getWeakRsaKeyPair().privateKey, signerCert)).rejects.toThrow(/2048/);
  });

  test('refuses a public key as signing key', async () => {
    await expect(signSignedData(PLAINTEXT, signerCert.publicKey, signerCert)).rejects.toThrow(CryptoError);
  });
});

describe('verifySignedData', () => {
  test.each(['SHA-256', 'SHA-384', 'SHA-512'] as const)('round trip with %s', async (hashingAlgorithm) => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, caCerts, { hashingAlgorithm });

    const verification = await verifySignedData(der);

    expect(verification.plaintext).toEqual(PLAINTEXT);
    expect(verification.signerCertificate.isEqual(signerCert)).toBe(true);
    expect(verification.attachedCertificates.map((c) => c.serialize())).toEqual([
      signerCert.serialize(),
      ...caCerts.map((c) => c.serialize()),
    ]);
  });

  test('empty plaintext', async () => {
    const der = await signSignedData(Buffer.alloc(0), signerKey, signerCert);

    await expect(verifySignedData(der)).resolves.toMatchObject({ plaintext: Buffer.alloc(0) });
  });

  test('detached plaintext', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, [], { encapsulatePlaintext: false });

    const verification = await verifySignedData(der, { detachedPlaintext: PLAINTEXT });

    expect(verification.plaintext).toEqual(PLAINTEXT);
  });

  test('wrong detached plaintext is refused', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, [], { encapsulatePlaintext: false });

    await expect(verifySignedData(der, { detachedPlaintext: Buffer.from('other') })).rejects.toThrow(
      /digest.*does not match/,
    );
  });

  test('a detached signature without the plaintext is refused', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, [], { encapsulatePlaintext: false });

    await expect(verifySignedData(der)).rejects.toThrow(/detached plaintext/);
  });

  test('a detached plaintext cannot be given for an encapsulated one', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);

    await expect(verifySignedData(der, { detachedPlaintext: PLAINTEXT })).rejects.toThrow(CryptoError);
  });

  test('tampered signature is refused', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);
    const signature = child(decodeAsn1(der), 1, 0, 4, 0, 5);
    const offset = signature.encoded.byteOffset - der.byteOffset + signature.encoded.length - 10;
    const tampered = Buffer.from(der);
    tampered[offset] ^= 0x01;

    await expect(verifySignedData(tampered)).rejects.toThrow(/Invalid signature/);
    await expect(verifySignedData(tampered)).rejects.toBeInstanceOf(CryptoError);
  });

  test('tampered content is refused', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);
    const tampered = Buffer.from(der);
    const offset = tampered.indexOf(PLAINTEXT);
    tampered[offset] ^= 0x01;

    await expect(verifySignedData(tampered)).rejects.toThrow(/digest.*does not match/);
  });

  test('tampered signed attributes are refused', async () => {
    const digestValue = createHash('sha256').update(PLAINTEXT).digest();
    const der = craftSignedData();
    const tampered = Buffer.from(der);
    // Change the digest inside the attributes and the content to match, keeping the old signature.
    const other = Buffer.from(PLAINTEXT);
    other[0] ^= 1;
    tampered.set(createHash('sha256').update(other).digest(), tampered.indexOf(digestValue));
    tampered.set(other, tampered.indexOf(PLAINTEXT));

    await expect(verifySignedData(der)).resolves.toBeDefined();
    await expect(verifySignedData(tampered)).rejects.toThrow(/Invalid signature/);
  });

  test('a PKCS#1 v1.5 signature is refused even though it is valid', async () => {
    const der = craftSignedData({ signerInfos: [craftSignerInfo({ scheme: 'pkcs1' })] });

    await expect(verifySignedData(der)).rejects.toThrow(CryptoError);
    await expect(verifySignedData(der)).rejects.toThrow(/PKCS#1 v1\.5.*RSA-PSS only/);
  });

  test('a SHA-1 digest is refused', async () => {
    const der = craftSignedData({
      digestOids: [SHA1_OID],
      signerInfos: [craftSignerInfo({ digestOid: SHA1_OID })],
    });

    await expect(verifySignedData(der)).rejects.toThrow(/SHA-1.*not allowed/);
  });

  test('the hand-made SignedData used below verifies when left alone', async () => {
    await expect(verifySignedData(craftSignedData())).resolves.toMatchObject({ plaintext: PLAINTEXT });
  });

  test('two SignerInfos are refused', async () => {
    const der = craftSignedData({
      certificates: [signerCert, otherCert],
      signerInfos: [
        craftSignerInfo(),
        craftSignerInfo({ certificate: otherCert, privateKey: pki.publicEndpoint.keyPair.privateKey }),
      ],
    });

    await expect(verifySignedData(der)).rejects.toThrow(/exactly one SignerInfo, got 2/);
    await expect(verifySignedData(der)).rejects.toBeInstanceOf(RelaynetSyntaxError);
  });

  test('zero SignerInfos are refused', async () => {
    await expect(verifySignedData(craftSignedData({ signerInfos: [] }))).rejects.toThrow(/got 0/);
  });

  test('two digest algorithms are refused', async () => {
    const der = craftSignedData({ digestOids: [ALGORITHM_OIDS.SHA256, ALGORITHM_OIDS.SHA512] });

    await expect(verifySignedData(der)).rejects.toThrow(/exactly one digest algorithm, got 2/);
  });

  test('a SignerInfo digest algorithm that differs from the declared one is refused', async () => {
    const der = craftSignedData({ digestOids: [ALGORITHM_OIDS.SHA512] });

    await expect(verifySignedData(der)).rejects.toThrow(/differs/);
  });

  test('a missing signer certificate is refused', async () => {
    const der = craftSignedData({ certificates: [otherCert] });

    await expect(verifySignedData(der)).rejects.toThrow(/signer certificate is not attached/);
    await expect(verifySignedData(craftSignedData({ certificates: null }))).rejects.toThrow(CryptoError);
  });

  test('the signer certificate may be given instead of attached', async () => {
    const der = craftSignedData({ certificates: null });

    const verification = await verifySignedData(der, { expectedSignerCertificate: signerCert });

    expect(verification.signerCertificate).toBe(signerCert);
    expect(verification.attachedCertificates).toEqual([]);
  });

  test('a signer other than the expected one is refused', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);

    await expect(verifySignedData(der, { expectedSignerCertificate: otherCert })).rejects.toThrow(
      /not signed by the expected signer/,
    );
  });

  test('a signature by another key under the same signer id is refused', async () => {
    const der = craftSignedData({
      signerInfos: [craftSignerInfo({ privateKey: pki.publicEndpoint.keyPair.privateKey })],
    });

    await expect(verifySignedData(der)).rejects.toThrow(/Invalid signature/);
  });

  test('a signer identified by subject key identifier is supported', async () => {
    const ski = signerCert.subjectKeyIdentifier as Buffer;
    const der = craftSignedData({
      signerInfos: [craftSignerInfo({ sid: tlv(TagClass.Context, false, 0, ski) })],
    });

    await expect(verifySignedData(der)).resolves.toMatchObject({ plaintext: PLAINTEXT });
  });

  test('missing signed attributes are refused', async () => {
    const der = craftSignedData({ signerInfos: [craftSignerInfo({ omitAttributes: true })] });

    await expect(verifySignedData(der)).rejects.toThrow(/no signed attributes/);
  });

  test('a missing message digest attribute is refused', async () => {
    const der = craftSignedData({
      signerInfos: [craftSignerInfo({ attributes: [attribute(CMS_OIDS.ATTR_CONTENT_TYPE, oid(CMS_OIDS.DATA))] })],
    });

    await expect(verifySignedData(der)).rejects.toThrow(/lack the message digest/);
  });

  test('a content type attribute that differs from eContentType is refused', async () => {
    const der = craftSignedData({ contentType: '1.2.3.4' });

    await expect(verifySignedData(der)).rejects.toThrow(/Content type attribute/);
  });

  test('truncated input is a syntax error', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);

    await expect(verifySignedData(der.subarray(0, der.length - 1))).rejects.toThrow(Asn1SyntaxError);
    await expect(verifySignedData(der.subarray(0, 10))).rejects.toThrow(/Truncated/);
  });

  test('trailing garbage is a syntax error', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);

    await expect(verifySignedData(Buffer.concat([der, Buffer.from([0])]))).rejects.toThrow(/Trailing data/);
  });

  test('empty input and non-ASN.1 input are syntax errors', async () => {
    await expect(verifySignedData(Buffer.alloc(0))).rejects.toThrow(RelaynetSyntaxError);
    await expect(verifySignedData(Buffer.from('not DER'))).rejects.toThrow(RelaynetSyntaxError);
  });

  test('a ContentInfo of another type is refused', async () => {
    const der = sequence(oid(CMS_OIDS.ENVELOPED_DATA), tlv(TagClass.Context, true, 0, sequence()));

    await expect(verifySignedData(der)).rejects.toThrow(/not 1\.2\.840\.113549\.1\.7\.2/);
  });

  test('a malformed attached certificate is refused', async () => {
    const der = craftSignedData({ rawCertificates: [signerCert.serialize(), sequence(integer(1))] });

    await expect(verifySignedData(der)).rejects.toThrow(/Certificate/);
  });

  test('a certificate choice other than X.509 is refused', async () => {
    const der = craftSignedData({ rawCertificates: [tlv(TagClass.Context, true, 2, sequence())] });

    await expect(verifySignedData(der)).rejects.toThrow(/not an X\.509 certificate/);
  });

  test('BER input (indefinite lengths, chunked eContent) is accepted', async () => {
    const plaintext = Buffer.alloc(5000, 'x');
    const der = await signSignedData(plaintext, signerKey, signerCert, caCerts);
    const ber = toBer(
      der,
      [signerCert, ...caCerts].map((c) => c.serialize()),
    );
    expect(ber.equals(der)).toBe(false);
    expect(() => decodeAsn1(ber)).toThrow(); // it really is not DER

    const verification = await verifySignedData(ber);

    expect(verification.plaintext).toEqual(plaintext);
  });
});

describe('interoperability with @relaycorp/relaynet-core', () => {
  let refKey: CryptoKey;

  beforeAll(async () => {
    refKey = await refSigningKey(signerKey);
  });

  test('ours → reference, encapsulated, with CA certificates', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, caCerts);

    const refSignedData = RefSignedData.deserialize(toArrayBuffer(der));
    await refSignedData.verify();

    expect(Buffer.from(refSignedData.plaintext!)).toEqual(PLAINTEXT);
    expect(refSignedData.signerCertificate!.getSerialNumber()).toEqual(signerCert.serialNumber);
    expect(refSignedData.certificates.size).toBe(3);
  });

  test.each(['SHA-384', 'SHA-512'] as const)('ours → reference with %s', async (hashingAlgorithm) => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, [], { hashingAlgorithm });

    await expect(RefSignedData.deserialize(toArrayBuffer(der)).verify()).resolves.toBeUndefined();
  });

  test('ours → reference, detached', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert, [], { encapsulatePlaintext: false });

    const refSignedData = RefSignedData.deserialize(toArrayBuffer(der));
    await refSignedData.verify(toArrayBuffer(PLAINTEXT));
    await expect(refSignedData.verify(toArrayBuffer(Buffer.from('other')))).rejects.toThrow();
  });

  test('ours → reference: the reference notices tampering', async () => {
    const der = await signSignedData(PLAINTEXT, signerKey, signerCert);
    const tampered = Buffer.from(der);
    tampered[tampered.indexOf(PLAINTEXT)] ^= 1;

    await expect(RefSignedData.deserialize(toArrayBuffer(tampered)).verify()).rejects.toThrow();
  });

  test('reference → ours, encapsulated, with CA certificates', async () => {
    const refCaCerts = caCerts.map(refCertificate);
    const refSignedData = await RefSignedData.sign(
      toArrayBuffer(PLAINTEXT),
      refKey,
      refCertificate(signerCert),
      refCaCerts,
    );
    const der = Buffer.from(refSignedData.serialize());

    const verification = await verifySignedData(der);

    expect(verification.plaintext).toEqual(PLAINTEXT);
    expect(verification.signerCertificate.isEqual(signerCert)).toBe(true);
    expect(verification.attachedCertificates).toHaveLength(3);
  });

  test('reference → ours, detached, SHA-512 digest with an RSA-PSS SHA-256 signature', async () => {
    const refSignedData = await RefSignedData.sign(toArrayBuffer(PLAINTEXT), refKey, refCertificate(signerCert), [], {
      encapsulatePlaintext: false,
      hashingAlgorithmName: 'SHA-512',
    });
    const der = Buffer.from(refSignedData.serialize());

    await expect(verifySignedData(der, { detachedPlaintext: PLAINTEXT })).resolves.toMatchObject({
      plaintext: PLAINTEXT,
    });
    await expect(verifySignedData(der, { detachedPlaintext: Buffer.from('x') })).rejects.toThrow(CryptoError);
  });

  test('7 MiB payload, both ways', async () => {
    const plaintext = Buffer.alloc(7 * 1024 * 1024, 0x5a);

    const ours = await signSignedData(plaintext, signerKey, signerCert);
    const refSignedData = RefSignedData.deserialize(toArrayBuffer(ours));
    await refSignedData.verify();
    expect(Buffer.from(refSignedData.plaintext!).equals(plaintext)).toBe(true);

    const theirs = Buffer.from(
      (await RefSignedData.sign(toArrayBuffer(plaintext), refKey, refCertificate(signerCert))).serialize(),
    );
    const verification = await verifySignedData(theirs);
    expect(verification.plaintext.equals(plaintext)).toBe(true);
  });
});
