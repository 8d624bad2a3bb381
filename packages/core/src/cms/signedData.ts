/**
 * CMS SignedData (RFC 5652 §5) as RS-001/RS-018 profile it and as @relaycorp/relaynet-core writes it:
 * one SignerInfo identified by issuer and serial number, signed attributes holding the content type
 * and the message digest, RSA-PSS signatures, SHA-256/384/512 digests.
 */
import { constants, sign as nodeSign, timingSafeEqual, verify as nodeVerify, type KeyObject } from 'node:crypto';

import {
  Asn1Element,
  decodeAsn1,
  expectSequence,
  readIntegerBytes,
  readOctetString,
  readOid,
  TagClass,
  UniversalTag,
} from '../asn1/decode';
import { implicit, integer, integerFromContent, octetString, oid, sequence, setOf, tlv } from '../asn1/encode';
import { Asn1SyntaxError, CryptoError, RelaynetError, RelaynetSyntaxError } from '../errors';
import { CMS_OIDS } from '../oids';
import { Certificate } from '../pki/Certificate';
import { assertRsaKey } from '../pki/keys';
import {
  digest,
  encodeHashAlgorithmIdentifier,
  encodeRsaPssAlgorithmIdentifier,
  hashInfo,
  readHashAlgorithmIdentifier,
  readRsaPssAlgorithmIdentifier,
  type HashingAlgorithm,
  type RsaPssParameters,
} from './algorithms';
import { canonicalDer, chunkedTlv, DER_IDENTIFIER, flatten, type DerChunks } from '../asn1/derChunks';

export type { HashingAlgorithm } from './algorithms';

export interface SignatureOptions {
  /** Digest and RSA-PSS hash. Default: SHA-256. */
  readonly hashingAlgorithm?: HashingAlgorithm;
  /** Whether to embed the plaintext (default) or produce a detached signature. */
  readonly encapsulatePlaintext?: boolean;
}

export interface SignatureVerification {
  readonly plaintext: Buffer;
  readonly signerCertificate: Certificate;
  /** Every certificate in the SignedData value, the signer's included, in their order there. */
  readonly attachedCertificates: Certificate[];
}

export interface VerificationOptions {
  /** The plaintext of a detached signature (it must not be set when the plaintext is encapsulated). */
  readonly detachedPlaintext?: Buffer;
  /** Require this certificate to be the signer; it need not be attached then. */
  readonly expectedSignerCertificate?: Certificate;
}

const SIGNED_DATA_VERSION = 1;
const SIGNER_INFO_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Signing

export async function signSignedData(
  plaintext: Buffer,
  privateKey: KeyObject,
  signerCertificate: Certificate,
  caCertificates: readonly Certificate[] = [],
  options: SignatureOptions = {},
): Promise<Buffer> {
  return flatten(await signSignedDataChunks(plaintext, privateKey, signerCertificate, caCertificates, options));
}

/**
 * Like signSignedData, but the plaintext may be given, and the result is returned, as chunks: a
 * caller that wraps the value further (RAMF prepends its format signature) then copies a large
 * payload once instead of at every level.
 */
export async function signSignedDataChunks(
  plaintext: Buffer | DerChunks,
  privateKey: KeyObject,
  signerCertificate: Certificate,
  caCertificates: readonly Certificate[] = [],
  options: SignatureOptions = {},
): Promise<DerChunks> {
  const hashingAlgorithm = options.hashingAlgorithm ?? 'SHA-256';
  hashInfo(hashingAlgorithm);
  assertRsaKey(privateKey, 'Signer private key', CryptoError, 'private');

  const signedAttributes = setOf(
    attribute(CMS_OIDS.ATTR_CONTENT_TYPE, oid(CMS_OIDS.DATA)),
    attribute(
      CMS_OIDS.ATTR_MESSAGE_DIGEST,
      octetString(digest(hashingAlgorithm, Buffer.isBuffer(plaintext) ? plaintext : plaintext.chunks)),
    ),
  );
  const signature = await rsaPssSign(signedAttributes, privateKey, hashingAlgorithm);

  const digestAlgorithm = encodeHashAlgorithmIdentifier(hashingAlgorithm);
  const signerInfo = sequence(
    integer(SIGNER_INFO_VERSION),
    sequence(signerCertificate.issuerName, integerFromContent(signerCertificate.serialNumber)),
    digestAlgorithm,
    implicit(0, signedAttributes),
    encodeRsaPssAlgorithmIdentifier(hashingAlgorithm),
    octetString(signature),
  );

  const encapsulate = options.encapsulatePlaintext ?? true;
  const encapContentInfo = encapsulate
    ? chunkedTlv(
        DER_IDENTIFIER.SEQUENCE,
        oid(CMS_OIDS.DATA),
        chunkedTlv(DER_IDENTIFIER.CONTEXT_CONSTRUCTED_0, chunkedTlv(DER_IDENTIFIER.OCTET_STRING, plaintext)),
      )
    : sequence(oid(CMS_OIDS.DATA));
  // Signer first, then the CAs, in the caller's order (as the reference implementation does).
  const certificates = tlv(TagClass.Context, true, 0, [
    signerCertificate.serialize(),
    ...caCertificates.map((certificate) => certificate.serialize()),
  ]);
  const signedData = chunkedTlv(
    DER_IDENTIFIER.SEQUENCE,
    integer(SIGNED_DATA_VERSION),
    setOf(digestAlgorithm),
    encapContentInfo,
    certificates,
    setOf(signerInfo),
  );
  return chunkedTlv(
    DER_IDENTIFIER.SEQUENCE,
    oid(CMS_OIDS.SIGNED_DATA),
    chunkedTlv(DER_IDENTIFIER.CONTEXT_CONSTRUCTED_0, signedData),
  );
}

function attribute(type: string, value: Buffer): Buffer {
  return sequence(oid(type), setOf(value));
}

function rsaPssSign(data: Buffer, privateKey: KeyObject, hash: HashingAlgorithm): Promise<Buffer> {
  const { nodeName, lengthOctets } = hashInfo(hash);
  const key = { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: lengthOctets };
  return new Promise((resolve, reject) => {
    nodeSign(nodeName, data, key, (error, signature) => {
      if (error) reject(new CryptoError(`RSA-PSS signing failed: ${error.message}`, { cause: error }));
      else resolve(signature);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Verification

export async function verifySignedData(
  contentInfoDer: Buffer,
  options: VerificationOptions = {},
): Promise<SignatureVerification> {
  const signedData = parseSignedData(contentInfoDer);
  const { signerInfo } = signedData;

  let plaintext: Buffer;
  if (signedData.encapsulatedPlaintext) {
    if (options.detachedPlaintext !== undefined) {
      throw new CryptoError('SignedData encapsulates its plaintext, so no detached plaintext may be given');
    }
    plaintext = signedData.encapsulatedPlaintext;
  } else {
    if (options.detachedPlaintext === undefined) {
      throw new CryptoError('SignedData has a detached plaintext, but none was given to verify it against');
    }
    plaintext = options.detachedPlaintext;
  }

  const signerCertificate = findSignerCertificate(signedData, options.expectedSignerCertificate);
  const signerKey = signerCertificate.publicKey;
  assertRsaKey(signerKey, 'Signer certificate key', CryptoError);

  if (signerInfo.contentType !== signedData.contentType) {
    throw new CryptoError(
      `Content type attribute (${signerInfo.contentType}) differs from the encapsulated content type ` +
        `(${signedData.contentType})`,
    );
  }
  const actualDigest = digest(signerInfo.digestAlgorithm, plaintext);
  if (
    actualDigest.length !== signerInfo.messageDigest.length ||
    !timingSafeEqual(actualDigest, signerInfo.messageDigest)
  ) {
    throw new CryptoError('Message digest attribute does not match the plaintext (content was altered)');
  }
  const valid = await rsaPssVerify(
    signerInfo.signedAttributesDer,
    signerKey,
    signerInfo.signatureAlgorithm,
    signerInfo.signature,
  );
  if (!valid) {
    throw new CryptoError('Invalid signature: it does not verify with the signer certificate key');
  }
  return {
    plaintext,
    signerCertificate,
    attachedCertificates: signedData.certificates,
  };
}

function findSignerCertificate(signedData: ParsedSignedData, expected: Certificate | undefined): Certificate {
  const { signerIdentifier } = signedData.signerInfo;
  if (expected) {
    if (!identifies(signerIdentifier, expected)) {
      throw new CryptoError('SignedData was not signed by the expected signer certificate');
    }
    return expected;
  }
  const signer = signedData.certificates.find((certificate) => identifies(signerIdentifier, certificate));
  if (!signer) {
    throw new CryptoError('The signer certificate is not attached to the SignedData value');
  }
  return signer;
}

function identifies(identifier: SignerIdentifier, certificate: Certificate): boolean {
  if (identifier.kind === 'issuerAndSerialNumber') {
    return identifier.serialNumber.equals(certificate.serialNumber) && identifier.issuer.equals(certificate.issuerName);
  }
  const ski = certificate.subjectKeyIdentifier;
  return ski !== null && ski.equals(identifier.subjectKeyIdentifier);
}

function rsaPssVerify(
  data: Buffer,
  publicKey: KeyObject,
  parameters: RsaPssParameters,
  signature: Buffer,
): Promise<boolean> {
  const key = { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: parameters.saltLength };
  return new Promise((resolve, reject) => {
    nodeVerify(hashInfo(parameters.hash).nodeName, data, key, signature, (error, result) => {
      if (error) reject(new CryptoError(`RSA-PSS verification failed: ${error.message}`, { cause: error }));
      else resolve(result);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Parsing

type SignerIdentifier =
  | { readonly kind: 'issuerAndSerialNumber'; readonly issuer: Buffer; readonly serialNumber: Buffer }
  | { readonly kind: 'subjectKeyIdentifier'; readonly subjectKeyIdentifier: Buffer };

interface ParsedSignerInfo {
  readonly signerIdentifier: SignerIdentifier;
  readonly digestAlgorithm: HashingAlgorithm;
  /** The signed attributes re-tagged as the SET OF that the signature covers. */
  readonly signedAttributesDer: Buffer;
  readonly contentType: string;
  readonly messageDigest: Buffer;
  readonly signatureAlgorithm: RsaPssParameters;
  readonly signature: Buffer;
}

interface ParsedSignedData {
  readonly contentType: string;
  readonly encapsulatedPlaintext: Buffer | null;
  readonly certificates: Certificate[];
  readonly signerInfo: ParsedSignerInfo;
}

/** Decode a ContentInfo and return its content, checking that it is of the expected type. */
export function decodeContentInfo(der: Buffer, expectedType: string, what: string): Asn1Element {
  if (!Buffer.isBuffer(der)) {
    throw new TypeError(`${what} must be a Buffer`);
  }
  let root: Asn1Element;
  try {
    root = decodeAsn1(der, { ber: true });
  } catch (error) {
    throw new Asn1SyntaxError(`${what} is not valid DER/BER: ${(error as Error).message}`, { cause: error });
  }
  const items = expectSequence(root, `${what} ContentInfo`);
  if (items.length !== 2) {
    throw new RelaynetSyntaxError(`${what} ContentInfo must have 2 items, got ${items.length}`);
  }
  const contentType = readOid(items[0], `${what} content type`);
  if (contentType !== expectedType) {
    throw new RelaynetSyntaxError(`${what} ContentInfo holds content type ${contentType}, not ${expectedType}`);
  }
  const wrapper = items[1];
  if (!wrapper.isContext(0) || !wrapper.constructed || wrapper.children.length !== 1) {
    throw new RelaynetSyntaxError(`${what} ContentInfo content must be one value under [0]`);
  }
  return wrapper.children[0];
}

/**
 * The encapsulated plaintext of a SignedData value, its signature NOT verified: only for a value this
 * program verified when it first took it (a message it stored after checking it), where verifying again
 * would cost a signature check for a field or two.
 */
export function readSignedDataPlaintextUnverified(der: Buffer): Buffer | null {
  try {
    const items = expectSequence(decodeContentInfo(der, CMS_OIDS.SIGNED_DATA, 'SignedData'), 'SignedData');
    if (items.length < 4) {
      throw new RelaynetSyntaxError(`SignedData must have at least 4 items, got ${items.length}`);
    }
    return parseEncapsulatedContentInfo(items[2]).plaintext;
  } catch (error) {
    if (error instanceof RelaynetError) throw error;
    throw new RelaynetSyntaxError(`SignedData is malformed: ${(error as Error).message}`, { cause: error });
  }
}

function parseSignedData(der: Buffer): ParsedSignedData {
  try {
    return parseSignedDataUnchecked(der);
  } catch (error) {
    if (error instanceof RelaynetError) throw error;
    throw new RelaynetSyntaxError(`SignedData is malformed: ${(error as Error).message}`, { cause: error });
  }
}

function parseSignedDataUnchecked(der: Buffer): ParsedSignedData {
  const content = decodeContentInfo(der, CMS_OIDS.SIGNED_DATA, 'SignedData');
  const items = expectSequence(content, 'SignedData');
  if (items.length < 4) {
    throw new RelaynetSyntaxError(`SignedData must have at least 4 items, got ${items.length}`);
  }
  readIntegerBytes(items[0], 'SignedData version');

  const digestAlgorithmSet = expectSet(items[1], 'SignedData digestAlgorithms');
  if (digestAlgorithmSet.length !== 1) {
    throw new RelaynetSyntaxError(
      `SignedData must declare exactly one digest algorithm, got ${digestAlgorithmSet.length}`,
    );
  }
  const digestAlgorithm = readHashAlgorithmIdentifier(digestAlgorithmSet[0], 'SignedData digest algorithm');

  const { contentType, plaintext } = parseEncapsulatedContentInfo(items[2]);

  let index = 3;
  let certificates: Certificate[] = [];
  if (items[index]?.isContext(0)) {
    certificates = parseCertificates(items[index]);
    index++;
  }
  if (items[index]?.isContext(1)) {
    index++; // CRLs: not used by Awala, ignored.
  }
  if (index !== items.length - 1) {
    throw new RelaynetSyntaxError('SignedData has unexpected items before or after signerInfos');
  }
  const signerInfos = expectSet(items[index], 'SignedData signerInfos');
  if (signerInfos.length !== 1) {
    throw new RelaynetSyntaxError(`SignedData must have exactly one SignerInfo, got ${signerInfos.length}`);
  }
  const signerInfo = parseSignerInfo(signerInfos[0]);
  if (signerInfo.digestAlgorithm !== digestAlgorithm) {
    throw new RelaynetSyntaxError(
      `SignerInfo digest algorithm (${signerInfo.digestAlgorithm}) differs from SignedData's (${digestAlgorithm})`,
    );
  }
  return { contentType, encapsulatedPlaintext: plaintext, certificates, signerInfo };
}

function expectSet(element: Asn1Element, what: string): readonly Asn1Element[] {
  if (!element.isUniversal(UniversalTag.SET) || !element.constructed) {
    throw new RelaynetSyntaxError(`${what}: expected a SET, got ${element.describe()}`);
  }
  return element.children;
}

function parseEncapsulatedContentInfo(element: Asn1Element): { contentType: string; plaintext: Buffer | null } {
  const items = expectSequence(element, 'SignedData encapContentInfo');
  if (items.length < 1 || items.length > 2) {
    throw new RelaynetSyntaxError(`SignedData encapContentInfo must have 1 or 2 items, got ${items.length}`);
  }
  const contentType = readOid(items[0], 'SignedData eContentType');
  if (items.length === 1) return { contentType, plaintext: null };
  const wrapper = items[1];
  if (!wrapper.isContext(0) || !wrapper.constructed || wrapper.children.length !== 1) {
    throw new RelaynetSyntaxError('SignedData eContent must be one OCTET STRING under [0]');
  }
  return { contentType, plaintext: readOctetString(wrapper.children[0], 'SignedData eContent') };
}

function parseCertificates(element: Asn1Element): Certificate[] {
  if (!element.constructed) {
    throw new RelaynetSyntaxError('SignedData certificates must be a constructed [0] SET');
  }
  return element.children.map((child, index) => {
    if (!child.isUniversal(UniversalTag.SEQUENCE)) {
      throw new RelaynetSyntaxError(
        `SignedData certificate #${index} is not an X.509 certificate (got ${child.describe()})`,
      );
    }
    try {
      return Certificate.deserialize(child.encoded);
    } catch (error) {
      if (error instanceof RelaynetError) throw error;
      throw new RelaynetSyntaxError(`SignedData certificate #${index} is malformed`, { cause: error });
    }
  });
}

function parseSignerInfo(element: Asn1Element): ParsedSignerInfo {
  const items = expectSequence(element, 'SignerInfo');
  if (items.length < 5 || items.length > 7) {
    throw new RelaynetSyntaxError(`SignerInfo must have 5 to 7 items, got ${items.length}`);
  }
  readIntegerBytes(items[0], 'SignerInfo version');
  const signerIdentifier = parseSignerIdentifier(items[1]);
  const digestAlgorithm = readHashAlgorithmIdentifier(items[2], 'SignerInfo digest algorithm');

  const signedAttributes = items[3];
  if (!signedAttributes.isContext(0)) {
    throw new CryptoError('SignerInfo has no signed attributes (content type and message digest are required)');
  }
  const attributes = parseSignedAttributes(signedAttributes);
  // The signature covers the attributes' DER encoding under the SET OF tag, not the [0] tag.
  const signedAttributesDer = tlv(
    TagClass.Universal,
    true,
    UniversalTag.SET,
    signedAttributes.children.map(canonicalDer),
  );

  const signatureAlgorithm = readRsaPssAlgorithmIdentifier(items[4], 'SignerInfo signature algorithm');
  const signatureElement = items[5];
  if (!signatureElement) throw new RelaynetSyntaxError('SignerInfo signature is missing');
  const signature = readOctetString(signatureElement, 'SignerInfo signature');
  if (items[6] && !items[6].isContext(1)) {
    throw new RelaynetSyntaxError(`SignerInfo has an unexpected trailing item ${items[6].describe()}`);
  }
  return {
    signerIdentifier,
    digestAlgorithm,
    signedAttributesDer,
    contentType: attributes.contentType,
    messageDigest: attributes.messageDigest,
    signatureAlgorithm,
    signature,
  };
}

function parseSignerIdentifier(element: Asn1Element): SignerIdentifier {
  if (element.isUniversal(UniversalTag.SEQUENCE)) {
    const items = expectSequence(element, 'SignerInfo issuerAndSerialNumber');
    if (items.length !== 2 || !items[0].isUniversal(UniversalTag.SEQUENCE)) {
      throw new RelaynetSyntaxError('SignerInfo issuerAndSerialNumber must be an issuer Name and a serial number');
    }
    return {
      kind: 'issuerAndSerialNumber',
      issuer: canonicalDer(items[0]),
      serialNumber: readIntegerBytes(items[1], 'SignerInfo serial number'),
    };
  }
  if (element.is(TagClass.Context, 0)) {
    return {
      kind: 'subjectKeyIdentifier',
      subjectKeyIdentifier: readOctetString(element, 'SignerInfo subjectKeyIdentifier', 0),
    };
  }
  throw new RelaynetSyntaxError(`SignerInfo sid has an unexpected tag ${element.describe()}`);
}

function parseSignedAttributes(element: Asn1Element): { contentType: string; messageDigest: Buffer } {
  const seen = new Set<string>();
  let contentType: string | null = null;
  let messageDigest: Buffer | null = null;
  for (const attributeElement of element.children) {
    const items = expectSequence(attributeElement, 'Signed attribute');
    if (items.length !== 2) {
      throw new RelaynetSyntaxError(`Signed attribute must have 2 items, got ${items.length}`);
    }
    const type = readOid(items[0], 'Signed attribute type');
    if (seen.has(type)) throw new RelaynetSyntaxError(`Signed attribute ${type} appears more than once`);
    seen.add(type);
    const values = expectSet(items[1], `Signed attribute ${type} values`);
    if (type === CMS_OIDS.ATTR_CONTENT_TYPE || type === CMS_OIDS.ATTR_MESSAGE_DIGEST) {
      if (values.length !== 1) {
        throw new RelaynetSyntaxError(`Signed attribute ${type} must have exactly one value, got ${values.length}`);
      }
      if (type === CMS_OIDS.ATTR_CONTENT_TYPE) {
        contentType = readOid(values[0], 'Content type attribute');
      } else {
        messageDigest = readOctetString(values[0], 'Message digest attribute');
      }
    }
  }
  if (contentType === null) throw new CryptoError('Signed attributes lack the content type attribute');
  if (messageDigest === null) throw new CryptoError('Signed attributes lack the message digest attribute');
  return { contentType, messageDigest };
}
