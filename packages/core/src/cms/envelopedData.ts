/**
 * CMS EnvelopedData (RFC 5652 §6) in the two forms Awala uses, byte-compatible with
 * @relaycorp/relaynet-core:
 *
 * - sessionless: one KeyTransRecipientInfo (RSA-OAEP with SHA-256) naming the recipient's
 *   certificate by issuer and serial number;
 * - channel session (RS-003): one KeyAgreeRecipientInfo (ECDH, X9.63 KDF with SHA-512, AES-256 key
 *   wrap; RFC 5753) with the originator's ephemeral public key in `originator`, the recipient's
 *   session key id as rKeyId, and the originator's key id in an unprotected attribute.
 *
 * Content is encrypted with AES-CBC and written as one primitive OCTET STRING. Input may be BER.
 */
import {
  constants,
  diffieHellman,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

import {
  Asn1Element,
  expectSequence,
  readIntegerBytes,
  readOctetString,
  readOid,
  readSmallInteger,
  TagClass,
  UniversalTag,
} from '../asn1/decode';
import { implicit, integer, integerFromContent, octetString, oid, sequence, setOf, tlv } from '../asn1/encode';
import { CryptoError, RelaynetError, RelaynetSyntaxError } from '../errors';
import { ALGORITHM_OIDS, AWALA_OIDS, CMS_OIDS } from '../oids';
import type { Certificate } from '../pki/Certificate';
import { assertRsaKey, derSerializePublicKey, type SessionKey } from '../pki/keys';
import {
  aesCbcCiphertextLength,
  aesCbcDecrypt,
  aesCbcEncryptInto,
  aesKeyUnwrap,
  aesKeyWrap,
  assertAesKeySize,
  curveFromOid,
  eccCmsSharedInfo,
  ecdhCurveOfKey,
  encodeAesCbcAlgorithmIdentifier,
  encodeKeyAgreementAlgorithmIdentifier,
  encodeRsaOaepAlgorithmIdentifier,
  hashInfo,
  importEcPublicKey,
  readAlgorithmIdentifier,
  readContentEncryptionAlgorithm,
  readKeyAgreementAlgorithm,
  readRsaOaepAlgorithmIdentifier,
  SESSION_KEY_WRAP_SIZE,
  x963Kdf,
  type AesKeySize,
  type ContentEncryptionAlgorithm,
  type KeyAgreementAlgorithm,
} from './algorithms';
import { allocateWithRoom, canonicalDer, chunkedTlv, DER_IDENTIFIER, MIN_LENGTH_WITH_ROOM } from '../asn1/derChunks';
import { decodeContentInfo } from './signedData';

export type { AesKeySize } from './algorithms';

export interface EncryptionOptions {
  /** AES key size for the content. Default: 128, as in the reference implementation. */
  readonly aesKeySize?: AesKeySize;
}

export interface SessionEncryptionResult {
  readonly envelopedData: Buffer;
  /** Id of the ephemeral (originator) key, as written in the unprotected attributes. */
  readonly dhKeyId: Buffer;
  readonly dhPrivateKey: KeyObject;
}

export type EnvelopedDataKind =
  | {
      readonly kind: 'sessionless';
      /**
       * INTEGER content octets of the recipient certificate's serial number, or its subject key
       * identifier if the recipient was identified that way (see `recipientSubjectKeyIdentifier`).
       */
      readonly recipientCertificateSerialNumber: Buffer;
      /** DER Name of the recipient certificate's issuer (absent when identified by SKI). */
      readonly recipientCertificateIssuerName?: Buffer;
      readonly recipientSubjectKeyIdentifier?: Buffer;
    }
  | {
      readonly kind: 'session';
      readonly recipientSessionKeyId: Buffer;
      readonly originatorSessionKey: SessionKey;
    };

const ENVELOPED_DATA_VERSION = 2;
const KEY_TRANS_RECIPIENT_INFO_VERSION = 0;
const KEY_AGREE_RECIPIENT_INFO_VERSION = 3;
const ORIGINATOR_KEY_ID_OCTETS = 8;
const UKM_OCTETS = 64;
const DEFAULT_AES_KEY_SIZE: AesKeySize = 128;

// ---------------------------------------------------------------------------------------------
// Sessionless (KeyTransRecipientInfo, RSA-OAEP)

export async function encryptSessionless(
  plaintext: Buffer | readonly Buffer[],
  recipientCertificate: Certificate,
  options: EncryptionOptions = {},
): Promise<Buffer> {
  const aesKeySize = assertAesKeySize(options.aesKeySize ?? DEFAULT_AES_KEY_SIZE);
  const recipientKey = recipientCertificate.publicKey;
  assertRsaKey(recipientKey, 'Recipient certificate key', CryptoError);

  const contentKey = randomBytes(aesKeySize / 8);
  let encryptedKey: Buffer;
  try {
    encryptedKey = publicEncrypt(
      { key: recipientKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      contentKey,
    );
  } catch (error) {
    throw new CryptoError(`RSA-OAEP encryption failed: ${(error as Error).message}`, { cause: error });
  }
  const recipientInfo = sequence(
    integer(KEY_TRANS_RECIPIENT_INFO_VERSION),
    sequence(recipientCertificate.issuerName, integerFromContent(recipientCertificate.serialNumber)),
    encodeRsaOaepAlgorithmIdentifier('SHA-256'),
    octetString(encryptedKey),
  );
  return serializeEnvelopedData(recipientInfo, contentKey, plaintext, null);
}

export async function decryptSessionless(envelopedDataDer: Buffer, privateKey: KeyObject): Promise<Buffer> {
  const envelopedData = parseEnvelopedData(envelopedDataDer);
  const recipientInfo = envelopedData.recipientInfo;
  if (recipientInfo.kind !== 'keyTransport') {
    throw new CryptoError(
      'EnvelopedData uses a channel session (KeyAgreeRecipientInfo); decrypt it with the session key instead',
    );
  }
  assertRsaKey(privateKey, 'Recipient private key', CryptoError, 'private');
  let contentKey: Buffer;
  try {
    contentKey = privateDecrypt(
      {
        key: privateKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: hashInfo(recipientInfo.oaepHash).nodeName,
      },
      recipientInfo.encryptedKey,
    );
  } catch (error) {
    throw new CryptoError('Could not decrypt the content key with RSA-OAEP (wrong private key?)', {
      cause: error,
    });
  }
  return decryptContent(envelopedData.content, contentKey);
}

// ---------------------------------------------------------------------------------------------
// Channel session (KeyAgreeRecipientInfo, ECDH)

export async function encryptWithSessionKey(
  plaintext: Buffer | readonly Buffer[],
  recipientSessionKey: SessionKey,
  options: EncryptionOptions = {},
): Promise<SessionEncryptionResult> {
  const aesKeySize = assertAesKeySize(options.aesKeySize ?? DEFAULT_AES_KEY_SIZE);
  const curve = ecdhCurveOfKey(recipientSessionKey.publicKey, 'Recipient session key');
  if (recipientSessionKey.publicKey.type !== 'public') {
    throw new CryptoError('Recipient session key must be a public key');
  }
  const ephemeral = await generateEcKeyPair(curve.nodeName);
  const sharedSecret = deriveSharedSecret(ephemeral.privateKey, recipientSessionKey.publicKey);
  const keyWrapOid = ALGORITHM_OIDS.AES256_KW;
  // Like the reference implementation (PKI.js), send a random UKM. It must be there: PKI.js, when
  // there is none, puts an empty entityUInfo in the SharedInfo instead of omitting it (RFC 5753),
  // so it could not decrypt a value without one.
  const ukm = randomBytes(UKM_OCTETS);
  const kek = x963Kdf(
    'SHA-512',
    sharedSecret,
    SESSION_KEY_WRAP_SIZE / 8,
    eccCmsSharedInfo(keyWrapOid, SESSION_KEY_WRAP_SIZE, ukm, false),
  );
  const contentKey = randomBytes(aesKeySize / 8);
  const wrappedKey = aesKeyWrap(kek, contentKey);

  // Not KeyObject.export('spki'): OpenSSL 3's DER encoder costs several times the JWK-based one.
  const originatorSpki = derSerializePublicKey(ephemeral.publicKey);
  const recipientInfo = implicit(
    1,
    sequence(
      integer(KEY_AGREE_RECIPIENT_INFO_VERSION),
      // originator [0] EXPLICIT OriginatorIdentifierOrKey: originatorKey [1] IMPLICIT OriginatorPublicKey
      tlv(TagClass.Context, true, 0, implicit(1, originatorSpki)),
      tlv(TagClass.Context, true, 1, octetString(ukm)),
      encodeKeyAgreementAlgorithmIdentifier(),
      sequence(sequence(implicit(0, sequence(octetString(recipientSessionKey.keyId))), octetString(wrappedKey))),
    ),
  );
  const dhKeyId = randomBytes(ORIGINATOR_KEY_ID_OCTETS);
  // The reference implementation writes the key id as an OCTET STRING (RS-003 says INTEGER); we match it.
  const unprotectedAttributes = tlv(TagClass.Context, true, 1, [
    sequence(oid(AWALA_OIDS.ORIGINATOR_SESSION_KEY_ID), setOf(octetString(dhKeyId))),
  ]);
  const envelopedData = serializeEnvelopedData(recipientInfo, contentKey, plaintext, unprotectedAttributes);
  return { envelopedData, dhKeyId, dhPrivateKey: ephemeral.privateKey };
}

export async function decryptWithSessionKey(
  envelopedDataDer: Buffer,
  privateKey: KeyObject,
): Promise<{ plaintext: Buffer; originatorSessionKey: SessionKey }> {
  const envelopedData = parseEnvelopedData(envelopedDataDer);
  const recipientInfo = envelopedData.recipientInfo;
  if (recipientInfo.kind !== 'keyAgreement') {
    throw new CryptoError(
      'EnvelopedData is sessionless (KeyTransRecipientInfo); decrypt it with the certificate private key instead',
    );
  }
  const originatorKeyId = requireOriginatorKeyId(envelopedData);
  if (privateKey.type !== 'private') {
    throw new CryptoError('Session private key must be a private key');
  }
  const recipientCurve = ecdhCurveOfKey(privateKey, 'Session private key');
  const originatorKey = importOriginatorKey(recipientInfo.originator, recipientCurve.oid);
  const sharedSecret = deriveSharedSecret(privateKey, originatorKey);

  const { algorithm } = recipientInfo;
  const unwrap = (withNullParameters: boolean): Buffer => {
    const sharedInfo = eccCmsSharedInfo(
      algorithm.keyWrapOid,
      algorithm.keyWrapSize,
      recipientInfo.ukm,
      withNullParameters,
    );
    const kek = x963Kdf(algorithm.kdfHash, sharedSecret, algorithm.keyWrapSize / 8, sharedInfo);
    return aesKeyUnwrap(kek, recipientInfo.encryptedKey);
  };
  let contentKey: Buffer;
  try {
    contentKey = unwrap(algorithm.keyWrapHasNullParameters);
  } catch (error) {
    // Some producers put a NULL in the SharedInfo's key wrap algorithm while omitting it on the wire.
    try {
      contentKey = unwrap(!algorithm.keyWrapHasNullParameters);
    } catch {
      throw new CryptoError('Could not unwrap the content key (wrong session private key?)', { cause: error });
    }
  }
  const plaintext = decryptContent(envelopedData.content, contentKey);
  return { plaintext, originatorSessionKey: { keyId: originatorKeyId, publicKey: originatorKey } };
}

function generateEcKeyPair(namedCurve: string): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve }, (error, publicKey, privateKey) => {
      if (error) reject(new CryptoError('Ephemeral ECDH key generation failed', { cause: error }));
      else resolve({ publicKey, privateKey });
    });
  });
}

function deriveSharedSecret(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  try {
    return diffieHellman({ privateKey, publicKey });
  } catch (error) {
    throw new CryptoError(`ECDH key agreement failed: ${(error as Error).message}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------
// Inspection

/** Tell how an EnvelopedData value was encrypted (and for which key) without decrypting it. */
export function inspectEnvelopedData(envelopedDataDer: Buffer): EnvelopedDataKind {
  const envelopedData = parseEnvelopedData(envelopedDataDer);
  const recipientInfo = envelopedData.recipientInfo;
  if (recipientInfo.kind === 'keyTransport') {
    const { recipient } = recipientInfo;
    if (recipient.kind === 'issuerAndSerialNumber') {
      return {
        kind: 'sessionless',
        recipientCertificateSerialNumber: recipient.serialNumber,
        recipientCertificateIssuerName: recipient.issuer,
      };
    }
    return {
      kind: 'sessionless',
      recipientCertificateSerialNumber: recipient.subjectKeyIdentifier,
      recipientSubjectKeyIdentifier: recipient.subjectKeyIdentifier,
    };
  }
  const keyId = requireOriginatorKeyId(envelopedData);
  const publicKey = importOriginatorKey(recipientInfo.originator, null);
  return {
    kind: 'session',
    recipientSessionKeyId: recipientInfo.recipientKeyId,
    originatorSessionKey: { keyId, publicKey },
  };
}

// ---------------------------------------------------------------------------------------------
// Serialisation

function serializeEnvelopedData(
  recipientInfo: Buffer,
  contentKey: Buffer,
  plaintext: Buffer | readonly Buffer[],
  unprotectedAttributes: Buffer | null,
): Buffer {
  const iv = randomBytes(16);
  const plaintextChunks = Buffer.isBuffer(plaintext) ? [plaintext] : plaintext;
  const plaintextLength = plaintextChunks.reduce((sum, chunk) => sum + chunk.length, 0);
  // The DER is laid out around a stand-in of the ciphertext's length; the cipher then writes the
  // ciphertext straight into the output, where the stand-in is.
  const ciphertextLength = aesCbcCiphertextLength(plaintextLength);
  const ciphertextMarker = Buffer.alloc(0);
  const encryptedContentInfo = chunkedTlv(
    DER_IDENTIFIER.SEQUENCE,
    oid(CMS_OIDS.DATA),
    encodeAesCbcAlgorithmIdentifier((contentKey.length * 8) as AesKeySize, iv),
    chunkedTlv(DER_IDENTIFIER.CONTEXT_PRIMITIVE_0, { chunks: [ciphertextMarker], length: ciphertextLength }),
  );
  const parts = [integer(ENVELOPED_DATA_VERSION), setOf(recipientInfo), encryptedContentInfo];
  if (unprotectedAttributes) parts.push(unprotectedAttributes);
  const { chunks, length } = chunkedTlv(
    DER_IDENTIFIER.SEQUENCE,
    oid(CMS_OIDS.ENVELOPED_DATA),
    chunkedTlv(DER_IDENTIFIER.CONTEXT_CONSTRUCTED_0, chunkedTlv(DER_IDENTIFIER.SEQUENCE, ...parts)),
  );
  // A large value is about to become a RAMF payload: leave room for the message around it.
  const output = length >= MIN_LENGTH_WITH_ROOM ? allocateWithRoom(length) : Buffer.allocUnsafe(length);
  let position = 0;
  for (const chunk of chunks) {
    if (chunk === ciphertextMarker) {
      aesCbcEncryptInto(contentKey, iv, plaintextChunks, output, position);
      position += ciphertextLength;
    } else {
      position += chunk.copy(output, position);
    }
  }
  return output;
}

// ---------------------------------------------------------------------------------------------
// Parsing

type RecipientIdentifier =
  | { readonly kind: 'issuerAndSerialNumber'; readonly issuer: Buffer; readonly serialNumber: Buffer }
  | { readonly kind: 'subjectKeyIdentifier'; readonly subjectKeyIdentifier: Buffer };

interface OriginatorPublicKey {
  readonly curveOid: string | null;
  readonly publicKeyBits: Buffer;
}

type ParsedRecipientInfo =
  | {
      readonly kind: 'keyTransport';
      readonly recipient: RecipientIdentifier;
      readonly oaepHash: ReturnType<typeof readRsaOaepAlgorithmIdentifier>;
      readonly encryptedKey: Buffer;
    }
  | {
      readonly kind: 'keyAgreement';
      readonly originator: OriginatorPublicKey;
      readonly ukm: Buffer | null;
      readonly algorithm: KeyAgreementAlgorithm;
      readonly recipientKeyId: Buffer;
      readonly encryptedKey: Buffer;
    };

interface EncryptedContent {
  readonly algorithm: ContentEncryptionAlgorithm;
  readonly ciphertext: Buffer;
}

interface ParsedEnvelopedData {
  readonly recipientInfo: ParsedRecipientInfo;
  readonly content: EncryptedContent;
  readonly unprotectedAttributes: readonly Asn1Element[];
}

function parseEnvelopedData(der: Buffer): ParsedEnvelopedData {
  try {
    return parseEnvelopedDataUnchecked(der);
  } catch (error) {
    if (error instanceof RelaynetError) throw error;
    throw new RelaynetSyntaxError(`EnvelopedData is malformed: ${(error as Error).message}`, { cause: error });
  }
}

function parseEnvelopedDataUnchecked(der: Buffer): ParsedEnvelopedData {
  const content = decodeContentInfo(der, CMS_OIDS.ENVELOPED_DATA, 'EnvelopedData');
  const items = expectSequence(content, 'EnvelopedData');
  let index = 0;
  readIntegerBytes(items[index++] ?? missing('version'), 'EnvelopedData version');
  if (items[index]?.isContext(0)) index++; // originatorInfo: certificates and CRLs we have no use for.

  const recipientInfos = items[index++] ?? missing('recipientInfos');
  if (!recipientInfos.isUniversal(UniversalTag.SET) || !recipientInfos.constructed) {
    throw new RelaynetSyntaxError(`EnvelopedData recipientInfos must be a SET, got ${recipientInfos.describe()}`);
  }
  if (recipientInfos.children.length !== 1) {
    throw new RelaynetSyntaxError(
      `EnvelopedData must have exactly one RecipientInfo, got ${recipientInfos.children.length}`,
    );
  }
  const recipientInfo = parseRecipientInfo(recipientInfos.children[0]);
  const encryptedContent = parseEncryptedContentInfo(items[index++] ?? missing('encryptedContentInfo'));

  let unprotectedAttributes: readonly Asn1Element[] = [];
  const attributesElement = items[index];
  if (attributesElement?.isContext(1) && attributesElement.constructed) {
    unprotectedAttributes = attributesElement.children;
    index++;
  }
  if (index !== items.length) {
    throw new RelaynetSyntaxError(`EnvelopedData has an unexpected item ${items[index].describe()}`);
  }
  return { recipientInfo, content: encryptedContent, unprotectedAttributes };
}

function missing(field: string): never {
  throw new RelaynetSyntaxError(`EnvelopedData ${field} is missing`);
}

function parseRecipientInfo(element: Asn1Element): ParsedRecipientInfo {
  if (element.isUniversal(UniversalTag.SEQUENCE)) return parseKeyTransRecipientInfo(element);
  if (element.is(TagClass.Context, 1) && element.constructed) return parseKeyAgreeRecipientInfo(element);
  throw new RelaynetSyntaxError(
    `Unsupported RecipientInfo ${element.describe()}: only KeyTransRecipientInfo and KeyAgreeRecipientInfo are`,
  );
}

function parseKeyTransRecipientInfo(element: Asn1Element): ParsedRecipientInfo {
  const items = expectSequence(element, 'KeyTransRecipientInfo');
  if (items.length !== 4) {
    throw new RelaynetSyntaxError(`KeyTransRecipientInfo must have 4 items, got ${items.length}`);
  }
  readIntegerBytes(items[0], 'KeyTransRecipientInfo version');
  let recipient: RecipientIdentifier;
  if (items[1].isUniversal(UniversalTag.SEQUENCE)) {
    const [issuer, serialNumber, ...rest] = expectSequence(items[1], 'KeyTransRecipientInfo issuerAndSerialNumber');
    if (!issuer?.isUniversal(UniversalTag.SEQUENCE) || !serialNumber || rest.length) {
      throw new RelaynetSyntaxError('KeyTransRecipientInfo issuerAndSerialNumber must be a Name and a serial number');
    }
    recipient = {
      kind: 'issuerAndSerialNumber',
      issuer: canonicalDer(issuer),
      serialNumber: readIntegerBytes(serialNumber, 'KeyTransRecipientInfo serial number'),
    };
  } else {
    recipient = {
      kind: 'subjectKeyIdentifier',
      subjectKeyIdentifier: readOctetString(items[1], 'KeyTransRecipientInfo subjectKeyIdentifier', 0),
    };
  }
  const oaepHash = readRsaOaepAlgorithmIdentifier(items[2], 'KeyTransRecipientInfo key encryption algorithm');
  const encryptedKey = readOctetString(items[3], 'KeyTransRecipientInfo encrypted key');
  return { kind: 'keyTransport', recipient, oaepHash, encryptedKey };
}

function parseKeyAgreeRecipientInfo(element: Asn1Element): ParsedRecipientInfo {
  const items = element.children;
  if (items.length < 4 || items.length > 5) {
    throw new RelaynetSyntaxError(`KeyAgreeRecipientInfo must have 4 or 5 items, got ${items.length}`);
  }
  const version = readSmallInteger(items[0], 'KeyAgreeRecipientInfo version');
  if (version !== KEY_AGREE_RECIPIENT_INFO_VERSION) {
    throw new RelaynetSyntaxError(`KeyAgreeRecipientInfo version must be 3, got ${version}`);
  }
  const originator = parseOriginator(items[1]);
  let index = 2;
  let ukm: Buffer | null = null;
  if (items[index].isContext(1)) {
    const [ukmValue, ...rest] = items[index].children;
    if (!ukmValue || rest.length) throw new RelaynetSyntaxError('KeyAgreeRecipientInfo ukm must hold one value');
    ukm = readOctetString(ukmValue, 'KeyAgreeRecipientInfo ukm');
    index++;
  }
  if (items.length !== index + 2) {
    throw new RelaynetSyntaxError('KeyAgreeRecipientInfo has an unexpected number of items');
  }
  const algorithm = readKeyAgreementAlgorithm(items[index], 'KeyAgreeRecipientInfo key encryption algorithm');
  const recipientEncryptedKeys = expectSequence(items[index + 1], 'KeyAgreeRecipientInfo recipientEncryptedKeys');
  if (recipientEncryptedKeys.length !== 1) {
    throw new RelaynetSyntaxError(
      `KeyAgreeRecipientInfo must have exactly one recipientEncryptedKey, got ${recipientEncryptedKeys.length}`,
    );
  }
  const [recipientId, encryptedKeyElement, ...rest] = expectSequence(
    recipientEncryptedKeys[0],
    'RecipientEncryptedKey',
  );
  if (!recipientId || !encryptedKeyElement || rest.length) {
    throw new RelaynetSyntaxError('RecipientEncryptedKey must have a recipient id and an encrypted key');
  }
  if (!recipientId.isContext(0) || !recipientId.constructed) {
    throw new RelaynetSyntaxError(
      `RecipientEncryptedKey must identify the recipient by rKeyId (session key id), got ${recipientId.describe()}`,
    );
  }
  const [keyIdentifier] = recipientId.children;
  if (!keyIdentifier) throw new RelaynetSyntaxError('RecipientKeyIdentifier is empty');
  const recipientKeyId = readOctetString(keyIdentifier, 'RecipientKeyIdentifier subjectKeyIdentifier');
  const encryptedKey = readOctetString(encryptedKeyElement, 'RecipientEncryptedKey encrypted key');
  return { kind: 'keyAgreement', originator, ukm, algorithm, recipientKeyId, encryptedKey };
}

function parseOriginator(element: Asn1Element): OriginatorPublicKey {
  if (!element.isContext(0) || !element.constructed || element.children.length !== 1) {
    throw new RelaynetSyntaxError('KeyAgreeRecipientInfo originator must be one value under [0]');
  }
  const originatorKey = element.children[0];
  if (!originatorKey.isContext(1) || !originatorKey.constructed) {
    throw new RelaynetSyntaxError(
      `KeyAgreeRecipientInfo originator must be an originatorKey (public key), got ${originatorKey.describe()}`,
    );
  }
  const [algorithmElement, publicKeyElement, ...rest] = originatorKey.children;
  if (!algorithmElement || !publicKeyElement || rest.length) {
    throw new RelaynetSyntaxError('OriginatorPublicKey must have an algorithm and a public key');
  }
  const algorithm = readAlgorithmIdentifier(algorithmElement, 'OriginatorPublicKey algorithm');
  if (algorithm.oid !== ALGORITHM_OIDS.EC_PUBLIC_KEY) {
    throw new CryptoError(`OriginatorPublicKey algorithm ${algorithm.oid} is not allowed (EC public keys only)`);
  }
  let curveOid: string | null = null;
  if (algorithm.parameters?.isUniversal(UniversalTag.OID)) {
    curveOid = readOid(algorithm.parameters, 'OriginatorPublicKey curve');
    curveFromOid(curveOid, 'OriginatorPublicKey');
  } else if (algorithm.parameters && !algorithm.parameters.isUniversal(UniversalTag.NULL)) {
    throw new RelaynetSyntaxError('OriginatorPublicKey curve must be a named curve');
  }
  if (!publicKeyElement.isUniversal(UniversalTag.BIT_STRING) || publicKeyElement.constructed) {
    throw new RelaynetSyntaxError('OriginatorPublicKey public key must be a primitive BIT STRING');
  }
  return { curveOid, publicKeyBits: publicKeyElement.encoded };
}

/** Import the originator's key, taking the recipient's curve when the originator omits it. */
function importOriginatorKey(originator: OriginatorPublicKey, fallbackCurveOid: string | null): KeyObject {
  const curveOid = originator.curveOid ?? fallbackCurveOid;
  if (!curveOid) {
    throw new RelaynetSyntaxError('OriginatorPublicKey does not name its curve');
  }
  const spki = sequence(sequence(oid(ALGORITHM_OIDS.EC_PUBLIC_KEY), oid(curveOid)), originator.publicKeyBits);
  return importEcPublicKey(spki, 'OriginatorPublicKey');
}

function requireOriginatorKeyId(envelopedData: ParsedEnvelopedData): Buffer {
  const matching = envelopedData.unprotectedAttributes.filter((attributeElement) => {
    const [type] = expectSequence(attributeElement, 'Unprotected attribute');
    return type !== undefined && readOid(type, 'Unprotected attribute type') === AWALA_OIDS.ORIGINATOR_SESSION_KEY_ID;
  });
  if (matching.length !== 1) {
    throw new RelaynetSyntaxError(
      matching.length === 0
        ? 'EnvelopedData lacks the originator session key id (unprotected attribute ' +
            `${AWALA_OIDS.ORIGINATOR_SESSION_KEY_ID})`
        : 'EnvelopedData has the originator session key id attribute more than once',
    );
  }
  const [, values, ...rest] = expectSequence(matching[0], 'Originator session key id attribute');
  if (!values || rest.length || !values.isUniversal(UniversalTag.SET) || values.children.length !== 1) {
    throw new RelaynetSyntaxError('Originator session key id attribute must have exactly one value');
  }
  const value = values.children[0];
  // The reference implementation writes an OCTET STRING; RS-003 says INTEGER. Accept both, as octets.
  if (value.isUniversal(UniversalTag.INTEGER)) {
    return readIntegerBytes(value, 'Originator session key id');
  }
  const keyId = readOctetString(value, 'Originator session key id');
  if (keyId.length === 0) throw new RelaynetSyntaxError('Originator session key id is empty');
  return keyId;
}

function parseEncryptedContentInfo(element: Asn1Element): EncryptedContent {
  const items = expectSequence(element, 'EncryptedContentInfo');
  if (items.length !== 3) {
    throw new RelaynetSyntaxError(
      items.length === 2
        ? 'EncryptedContentInfo has no encrypted content'
        : `EncryptedContentInfo must have 3 items, got ${items.length}`,
    );
  }
  readOid(items[0], 'EncryptedContentInfo content type');
  const algorithm = readContentEncryptionAlgorithm(items[1], 'EncryptedContentInfo content encryption algorithm');
  const ciphertext = readOctetString(items[2], 'EncryptedContentInfo encrypted content', 0);
  return { algorithm, ciphertext };
}

function decryptContent(content: EncryptedContent, contentKey: Buffer): Buffer {
  if (contentKey.length * 8 !== content.algorithm.keySize) {
    throw new CryptoError(
      `Content key is ${contentKey.length * 8} bits but the content algorithm is AES-${content.algorithm.keySize}`,
    );
  }
  return aesCbcDecrypt(contentKey, content.algorithm.iv, content.ciphertext);
}
