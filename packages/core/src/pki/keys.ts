/**
 * Identity keys (RSA) and session keys (ECDH), backed by node:crypto KeyObjects.
 *
 * Keys cross process and library boundaries only as DER: SubjectPublicKeyInfo for public keys and
 * PKCS#8 for private keys.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, KeyObject, randomBytes } from 'node:crypto';

import { Asn1Element, decodeAsn1, TagClass, UniversalTag } from '../asn1/decode';
import { bitString, integer, nullValue, octetString, oid, sequence, tlv } from '../asn1/encode';
import { CryptoError, RelaynetSyntaxError } from '../errors';
import { DerCache } from '../lruCache';
import { ALGORITHM_OIDS } from '../oids';

export type RsaModulus = 2048 | 3072 | 4096;
export type EcdhCurveName = 'P-256' | 'P-384' | 'P-521';

export interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/** A session (ECDH) public key and the random id that names it (RS-003). */
export interface SessionKey {
  readonly keyId: Buffer;
  readonly publicKey: KeyObject;
}

export interface SessionKeyPair {
  readonly sessionKey: SessionKey;
  readonly privateKey: KeyObject;
}

/** RS-018: identity keys are RSA with a modulus of at least 2048 bits. */
export const MIN_RSA_MODULUS = 2048;
const SUPPORTED_RSA_MODULI: readonly number[] = [2048, 3072, 4096];
const SESSION_KEY_ID_LENGTH = 8;

/** WebCrypto curve names mapped to the names node:crypto reports and accepts. */
const NODE_CURVE_BY_NAME: Readonly<Record<EcdhCurveName, string>> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
};
const SUPPORTED_NODE_CURVES = new Set(Object.values(NODE_CURVE_BY_NAME));

// ---------------------------------------------------------------------------------------------
// Generation

export function generateRsaKeyPair(modulus: RsaModulus = 2048): Promise<KeyPair> {
  if (!SUPPORTED_RSA_MODULI.includes(modulus)) {
    return Promise.reject(
      new CryptoError(`Unsupported RSA modulus ${modulus}: it must be one of ${SUPPORTED_RSA_MODULI.join(', ')}`),
    );
  }
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: modulus, publicExponent: 0x10001 }, (err, publicKey, privateKey) => {
      if (err) reject(new CryptoError('RSA key generation failed', { cause: err }));
      else resolve({ publicKey, privateKey });
    });
  });
}

export function generateEcdhKeyPair(curve: EcdhCurveName = 'P-256'): Promise<KeyPair> {
  const namedCurve = NODE_CURVE_BY_NAME[curve];
  if (!namedCurve) {
    return Promise.reject(new CryptoError(`Unsupported ECDH curve "${String(curve)}"`));
  }
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve }, (err, publicKey, privateKey) => {
      if (err) reject(new CryptoError('ECDH key generation failed', { cause: err }));
      else resolve({ publicKey, privateKey });
    });
  });
}

export async function generateSessionKeyPair(curve: EcdhCurveName = 'P-256'): Promise<SessionKeyPair> {
  const { publicKey, privateKey } = await generateEcdhKeyPair(curve);
  return { sessionKey: { keyId: randomBytes(SESSION_KEY_ID_LENGTH), publicKey }, privateKey };
}

// ---------------------------------------------------------------------------------------------
// Ids

const idCache = new WeakMap<KeyObject, string>();

/** SHA-256 of a SubjectPublicKeyInfo DER (what SKI and AKI hold). */
export function getPublicKeyDigest(spkiDer: Buffer): Buffer {
  return createHash('sha256').update(spkiDer).digest();
}

/** The node id for an SPKI DER: "0" followed by the lowercase hex SHA-256 of the SPKI. */
export function getIdFromSpki(spkiDer: Buffer): string {
  return '0' + createHash('sha256').update(spkiDer).digest('hex');
}

/**
 * The node id of an RSA identity key: "0" + lowercase hex SHA-256 of its SPKI DER.
 * A private key is accepted too (its public half is used). Results are cached per KeyObject.
 */
export function getIdFromIdentityKey(publicKey: KeyObject): string {
  const cached = idCache.get(publicKey);
  if (cached !== undefined) return cached;
  assertRsaKey(publicKey, 'Identity key');
  const id = getIdFromSpki(derSerializePublicKey(publicKey));
  idCache.set(publicKey, id);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Serialisation

/** SubjectPublicKeyInfo DER. A private key is accepted too (its public half is exported). */
export function derSerializePublicKey(key: KeyObject): Buffer {
  if (!(key instanceof KeyObject) || key.type === 'secret') {
    throw new TypeError('Expected an asymmetric KeyObject');
  }
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  let spki = spkiCache.get(publicKey);
  if (!spki) {
    spki = encodeSpkiFast(publicKey) ?? publicKey.export({ type: 'spki', format: 'der' });
    spkiCache.set(publicKey, spki);
    if (key !== publicKey) spkiCache.set(key, spki);
  }
  return Buffer.from(spki);
}

/** PKCS#8 DER. */
export function derSerializePrivateKey(key: KeyObject): Buffer {
  if (!(key instanceof KeyObject) || key.type !== 'private') {
    throw new TypeError('Expected a private KeyObject');
  }
  return encodePkcs8Fast(key) ?? key.export({ type: 'pkcs8', format: 'der' });
}

export function derDeserializeRsaPublicKey(der: Buffer): KeyObject {
  const key = importKey(der, 'public', 'RSA public key');
  assertRsaKey(key, 'RSA public key', RelaynetSyntaxError);
  return key;
}

export function derDeserializeRsaPrivateKey(der: Buffer): KeyObject {
  const key = importKey(der, 'private', 'RSA private key');
  assertRsaKey(key, 'RSA private key', RelaynetSyntaxError);
  return key;
}

export function derDeserializeEcdhPublicKey(der: Buffer): KeyObject {
  const key = importKey(der, 'public', 'ECDH public key');
  assertEcdhKey(key, 'ECDH public key');
  return key;
}

export function derDeserializeEcdhPrivateKey(der: Buffer): KeyObject {
  const key = importKey(der, 'private', 'ECDH private key');
  assertEcdhKey(key, 'ECDH private key');
  return key;
}

/**
 * Imported public keys, by their SPKI bytes. Key import dominates the cost of reading a message
 * (every parcel in a cargo carries the same few certificates), and KeyObjects are immutable, so a
 * bounded cache is safe and removes that cost.
 */
const importedKeys = new DerCache<KeyObject>(2048);

/**
 * Import an SPKI DER public key (any type node supports). Plain RSA and named-curve EC keys take a
 * fast path: OpenSSL 3's SPKI decoder costs ~150 µs a key, PKCS#1/JWK imports a few µs.
 *
 * @throws Error (from node:crypto) if the value is not a valid key.
 */
export function importSpki(der: Buffer): KeyObject {
  const cached = importedKeys.get(der);
  if (cached) return cached;
  const key = importPublicFast(der) ?? createPublicKey({ key: der, format: 'der', type: 'spki' });
  // Own copy, outside Buffer's shared pool: the caller's buffer may be reused, and a view or a pooled
  // copy kept in the cache would pin a larger buffer in memory.
  const copy = Buffer.allocUnsafeSlow(der.length);
  der.copy(copy);
  importedKeys.set(copy, key);
  return key;
}

function importKey(der: Buffer, kind: 'public' | 'private', what: string): KeyObject {
  if (!((der as unknown) instanceof Uint8Array)) {
    throw new RelaynetSyntaxError(`${what} must be DER bytes`);
  }
  const bytes = Buffer.isBuffer(der) ? der : Buffer.from(der);
  try {
    return kind === 'public'
      ? importSpki(bytes)
      : (importPrivateFast(bytes) ?? createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' }));
  } catch (err) {
    const form = kind === 'public' ? 'SubjectPublicKeyInfo' : 'PKCS#8';
    throw new RelaynetSyntaxError(`${what} is not a valid ${form} DER value`, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------
// Fast paths. Each returns null when the input is not the simple, common form, and the caller
// then falls back to node:crypto's own DER codec (which also produces the errors).

const spkiCache = new WeakMap<KeyObject, Buffer>();

interface CurveInfo {
  readonly jwkName: EcdhCurveName;
  readonly oid: string;
  readonly size: number;
}

const CURVES: readonly CurveInfo[] = [
  { jwkName: 'P-256', oid: ALGORITHM_OIDS.P256, size: 32 },
  { jwkName: 'P-384', oid: ALGORITHM_OIDS.P384, size: 48 },
  { jwkName: 'P-521', oid: ALGORITHM_OIDS.P521, size: 66 },
];
const CURVE_BY_JWK_NAME = new Map(CURVES.map((c) => [c.jwkName as string, c]));
const RSA_ALGORITHM_IDENTIFIER = sequence(oid(ALGORITHM_OIDS.RSA_ENCRYPTION), nullValue());
const EC_PUBLIC_KEY_OID = oid(ALGORITHM_OIDS.EC_PUBLIC_KEY);

function encodeSpkiFast(key: KeyObject): Buffer | null {
  if (key.asymmetricKeyType === 'rsa') {
    return sequence(RSA_ALGORITHM_IDENTIFIER, bitString(key.export({ type: 'pkcs1', format: 'der' })));
  }
  if (key.asymmetricKeyType === 'ec') {
    const jwk = key.export({ format: 'jwk' });
    const curve = CURVE_BY_JWK_NAME.get(jwk.crv ?? '');
    if (!curve || !jwk.x || !jwk.y) return null;
    return sequence(sequence(EC_PUBLIC_KEY_OID, oid(curve.oid)), bitString(encodeEcPoint(jwk.x, jwk.y)));
  }
  return null;
}

function encodePkcs8Fast(key: KeyObject): Buffer | null {
  if (key.asymmetricKeyType === 'rsa') {
    const pkcs1 = key.export({ type: 'pkcs1', format: 'der' });
    return sequence(integer(0), RSA_ALGORITHM_IDENTIFIER, octetString(pkcs1));
  }
  if (key.asymmetricKeyType === 'ec') {
    const jwk = key.export({ format: 'jwk' });
    const curve = CURVE_BY_JWK_NAME.get(jwk.crv ?? '');
    if (!curve || !jwk.x || !jwk.y || !jwk.d) return null;
    const ecPrivateKey = sequence(
      integer(1),
      octetString(Buffer.from(jwk.d, 'base64url')),
      tlv(TagClass.Context, true, 1, bitString(encodeEcPoint(jwk.x, jwk.y))),
    );
    return sequence(integer(0), sequence(EC_PUBLIC_KEY_OID, oid(curve.oid)), octetString(ecPrivateKey));
  }
  return null;
}

function encodeEcPoint(x: string, y: string): Buffer {
  return Buffer.concat([Buffer.from([4]), Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')]);
}

/** Decode `der` as one DER value, or null if it is not one. */
function tryDecode(der: Buffer): Asn1Element | null {
  try {
    return decodeAsn1(der);
  } catch {
    return null;
  }
}

function isSequence(element: Asn1Element | null | undefined, length: number): element is Asn1Element {
  return (
    element != null &&
    element.isUniversal(UniversalTag.SEQUENCE) &&
    element.constructed &&
    element.children.length === length
  );
}

function isPrimitive(element: Asn1Element | undefined, tag: number): element is Asn1Element {
  return element !== undefined && element.isUniversal(tag) && !element.constructed;
}

/** The key type and curve OID (if any) of an AlgorithmIdentifier, when it is a plain RSA/EC one. */
function readKeyAlgorithm(element: Asn1Element): { type: 'rsa' } | { type: 'ec'; curve: CurveInfo } | null {
  if (!isSequence(element, 2) || !isPrimitive(element.children[0], UniversalTag.OID)) return null;
  const [algorithm, parameters] = element.children;
  if (algorithm.encoded.equals(oid(ALGORITHM_OIDS.RSA_ENCRYPTION))) {
    return parameters.isUniversal(UniversalTag.NULL) && parameters.content.length === 0 ? { type: 'rsa' } : null;
  }
  if (algorithm.encoded.equals(EC_PUBLIC_KEY_OID) && isPrimitive(parameters, UniversalTag.OID)) {
    const curve = CURVES.find((c) => oid(c.oid).equals(parameters.encoded));
    return curve ? { type: 'ec', curve } : null;
  }
  return null;
}

/** The content of a BIT STRING with no unused bits, or null. */
function readWholeBitString(element: Asn1Element): Buffer | null {
  if (!isPrimitive(element, UniversalTag.BIT_STRING) || element.content[0] !== 0) return null;
  return element.content.subarray(1);
}

function importPublicFast(der: Buffer): KeyObject | null {
  const spki = tryDecode(der);
  if (!isSequence(spki, 2)) return null;
  const algorithm = readKeyAlgorithm(spki.children[0]);
  const keyBits = readWholeBitString(spki.children[1]);
  if (!algorithm || !keyBits) return null;
  if (algorithm.type === 'rsa') {
    return createPublicKey({ key: keyBits, format: 'der', type: 'pkcs1' });
  }
  const size = algorithm.curve.size;
  if (keyBits.length !== 1 + 2 * size || keyBits[0] !== 4) return null; // compressed or odd points
  return createPublicKey({
    key: {
      kty: 'EC',
      crv: algorithm.curve.jwkName,
      x: keyBits.subarray(1, 1 + size).toString('base64url'),
      y: keyBits.subarray(1 + size).toString('base64url'),
    },
    format: 'jwk',
  });
}

function importPrivateFast(der: Buffer): KeyObject | null {
  const pkcs8 = tryDecode(der);
  if (!isSequence(pkcs8, 3)) return null;
  const [version, algorithmElement, privateKey] = pkcs8.children;
  if (!isPrimitive(version, UniversalTag.INTEGER) || !version.content.equals(Buffer.from([0]))) return null;
  if (!isPrimitive(privateKey, UniversalTag.OCTET_STRING)) return null;
  const algorithm = readKeyAlgorithm(algorithmElement);
  if (!algorithm) return null;
  const inner = tryDecode(privateKey.content);
  if (!inner || !inner.isUniversal(UniversalTag.SEQUENCE) || !inner.constructed) return null;
  return algorithm.type === 'rsa' ? importRsaPrivateJwk(inner) : importEcPrivateJwk(inner, algorithm.curve);
}

/** RSAPrivateKey (two primes) as a JWK: OpenSSL's JWK import is far cheaper than its DER one. */
function importRsaPrivateJwk(rsaPrivateKey: Asn1Element): KeyObject | null {
  const fields = rsaPrivateKey.children;
  if (fields.length !== 9 || !fields.every((f) => isPrimitive(f, UniversalTag.INTEGER))) return null;
  if (!fields[0].content.equals(Buffer.from([0]))) return null;
  if (fields.slice(1).some((f) => f.content.length === 0 || f.content[0] & 0x80)) return null;
  const [n, e, d, p, q, dp, dq, qi] = fields.slice(1).map((f) => unsignedBase64Url(f.content));
  return createPrivateKey({ key: { kty: 'RSA', n, e, d, p, q, dp, dq, qi }, format: 'jwk' });
}

/** ECPrivateKey with its public key, as a JWK. */
function importEcPrivateJwk(ecPrivateKey: Asn1Element, curve: CurveInfo): KeyObject | null {
  const fields = ecPrivateKey.children;
  const [version, privateKey] = fields;
  if (!isPrimitive(version, UniversalTag.INTEGER) || !version.content.equals(Buffer.from([1]))) return null;
  if (!isPrimitive(privateKey, UniversalTag.OCTET_STRING) || privateKey.content.length !== curve.size) return null;
  let point: Buffer | null = null;
  for (const field of fields.slice(2)) {
    if (field.is(TagClass.Context, 0)) {
      if (field.children.length !== 1 || !field.children[0].encoded.equals(oid(curve.oid))) return null;
    } else if (field.is(TagClass.Context, 1) && field.children.length === 1) {
      point = readWholeBitString(field.children[0]);
    } else {
      return null;
    }
  }
  if (!point || point.length !== 1 + 2 * curve.size || point[0] !== 4) return null;
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv: curve.jwkName,
      d: privateKey.content.toString('base64url'),
      x: point.subarray(1, 1 + curve.size).toString('base64url'),
      y: point.subarray(1 + curve.size).toString('base64url'),
    },
    format: 'jwk',
  });
}

function unsignedBase64Url(content: Buffer): string {
  const start = content.length > 1 && content[0] === 0 ? 1 : 0;
  return content.subarray(start).toString('base64url');
}

// ---------------------------------------------------------------------------------------------
// Checks

type ErrorClass = new (message: string, options?: { cause?: unknown }) => Error;

export function isRsaKey(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss';
}

/** Throw unless `key` is an RSA key with a modulus of at least 2048 bits. */
export function assertRsaKey(
  key: KeyObject,
  what: string,
  errorClass: ErrorClass = CryptoError,
  expectedType?: 'public' | 'private',
): void {
  if (!(key instanceof KeyObject)) {
    throw new TypeError(`${what} must be a KeyObject`);
  }
  if (expectedType && key.type !== expectedType) {
    throw new errorClass(`${what} must be a ${expectedType} key (got a ${key.type} key)`);
  }
  if (!isRsaKey(key)) {
    throw new errorClass(`${what} must be an RSA key (got ${key.asymmetricKeyType ?? key.type})`);
  }
  const modulus = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (modulus < MIN_RSA_MODULUS) {
    throw new errorClass(`${what} must have a modulus of at least ${MIN_RSA_MODULUS} bits (got ${modulus})`);
  }
}

function assertEcdhKey(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec') {
    throw new RelaynetSyntaxError(`${what} must be an EC key (got ${key.asymmetricKeyType})`);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (!curve || !SUPPORTED_NODE_CURVES.has(curve)) {
    throw new RelaynetSyntaxError(`${what} uses an unsupported curve (${curve ?? 'unnamed'})`);
  }
}
