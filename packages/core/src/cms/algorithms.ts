/**
 * RS-018 algorithm allow-lists for CMS, and the primitives built on node:crypto that the CMS
 * structures need (X9.63 KDF, AES key wrap, AES-CBC).
 *
 * Everything that reads an algorithm identifier from the wire goes through a function here, so an
 * algorithm outside the allow-list is refused with a CryptoError in one place.
 */
import { importSpki } from '../pki/keys';
import { createCipheriv, createDecipheriv, createHash, type KeyObject } from 'node:crypto';

import {
  Asn1Element,
  expectSequence,
  readOctetString,
  readOid,
  readSmallInteger,
  TagClass,
  UniversalTag,
} from '../asn1/decode';
import { explicit, integer, nullValue, octetString, oid, sequence } from '../asn1/encode';
import { CryptoError, RelaynetSyntaxError } from '../errors';
import { ALGORITHM_OIDS } from '../oids';

// ---------------------------------------------------------------------------------------------
// Hashes

export type HashingAlgorithm = 'SHA-256' | 'SHA-384' | 'SHA-512';
export const HASHING_ALGORITHMS: readonly HashingAlgorithm[] = ['SHA-256', 'SHA-384', 'SHA-512'];

interface HashInfo {
  readonly oid: string;
  readonly nodeName: string;
  readonly lengthOctets: number;
}

const HASHES: Readonly<Record<HashingAlgorithm, HashInfo>> = {
  'SHA-256': { oid: ALGORITHM_OIDS.SHA256, nodeName: 'sha256', lengthOctets: 32 },
  'SHA-384': { oid: ALGORITHM_OIDS.SHA384, nodeName: 'sha384', lengthOctets: 48 },
  'SHA-512': { oid: ALGORITHM_OIDS.SHA512, nodeName: 'sha512', lengthOctets: 64 },
};

/** Algorithms we recognise only to name them in error messages. */
const KNOWN_DISALLOWED_OIDS: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'SHA-1',
  '1.2.840.113549.2.5': 'MD5',
  '2.16.840.1.101.3.4.2.4': 'SHA-224',
  '1.2.840.113549.1.1.1': 'RSA PKCS#1 v1.5 (rsaEncryption)',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption (PKCS#1 v1.5)',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption (PKCS#1 v1.5)',
  [ALGORITHM_OIDS.SHA256_WITH_RSA]: 'sha256WithRSAEncryption (PKCS#1 v1.5)',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption (PKCS#1 v1.5)',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption (PKCS#1 v1.5)',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.3.101.112': 'Ed25519',
  '2.16.840.1.101.3.4.1.6': 'AES-128-GCM',
  '2.16.840.1.101.3.4.1.26': 'AES-192-GCM',
  '2.16.840.1.101.3.4.1.46': 'AES-256-GCM',
  '1.2.840.113549.3.7': 'DES-EDE3-CBC',
  '1.3.14.3.2.7': 'DES-CBC',
};

export function describeOid(dotted: string): string {
  const name = KNOWN_DISALLOWED_OIDS[dotted];
  return name ? `${name} (${dotted})` : dotted;
}

export function hashInfo(algorithm: HashingAlgorithm): HashInfo {
  const info = HASHES[algorithm];
  if (!info) {
    throw new CryptoError(`Hashing algorithm ${String(algorithm)} is not allowed (RS-018: SHA-256/384/512)`);
  }
  return info;
}

export function hashAlgorithmFromOid(dotted: string, what: string): HashingAlgorithm {
  for (const [name, info] of Object.entries(HASHES)) {
    if (info.oid === dotted) return name as HashingAlgorithm;
  }
  throw new CryptoError(`${what}: hashing algorithm ${describeOid(dotted)} is not allowed (RS-018: SHA-256/384/512)`);
}

export function digest(algorithm: HashingAlgorithm, data: Buffer | readonly Buffer[]): Buffer {
  const hash = createHash(hashInfo(algorithm).nodeName);
  for (const chunk of Buffer.isBuffer(data) ? [data] : data) hash.update(chunk);
  return hash.digest();
}

// ---------------------------------------------------------------------------------------------
// AlgorithmIdentifier

export interface AlgorithmIdentifier {
  readonly oid: string;
  /** The parameters, if present (a NULL is returned as an element like any other). */
  readonly parameters: Asn1Element | null;
}

export function readAlgorithmIdentifier(element: Asn1Element, what: string): AlgorithmIdentifier {
  const items = expectSequence(element, what);
  if (items.length < 1 || items.length > 2) {
    throw new RelaynetSyntaxError(`${what}: AlgorithmIdentifier must have 1 or 2 items, got ${items.length}`);
  }
  return { oid: readOid(items[0], `${what} algorithm`), parameters: items[1] ?? null };
}

function isAbsentOrNull(parameters: Asn1Element | null): boolean {
  return parameters === null || (parameters.isUniversal(UniversalTag.NULL) && parameters.content.length === 0);
}

/** A hash AlgorithmIdentifier as the reference implementation writes it: with NULL parameters. */
export function encodeHashAlgorithmIdentifier(algorithm: HashingAlgorithm): Buffer {
  return sequence(oid(hashInfo(algorithm).oid), nullValue());
}

export function readHashAlgorithmIdentifier(element: Asn1Element, what: string): HashingAlgorithm {
  const identifier = readAlgorithmIdentifier(element, what);
  const algorithm = hashAlgorithmFromOid(identifier.oid, what);
  if (!isAbsentOrNull(identifier.parameters)) {
    throw new RelaynetSyntaxError(`${what}: hash parameters must be absent or NULL`);
  }
  return algorithm;
}

function encodeMgf1(algorithm: HashingAlgorithm): Buffer {
  return sequence(oid(ALGORITHM_OIDS.MGF1), encodeHashAlgorithmIdentifier(algorithm));
}

function readMgf1(element: Asn1Element, what: string): HashingAlgorithm {
  const identifier = readAlgorithmIdentifier(element, what);
  if (identifier.oid !== ALGORITHM_OIDS.MGF1) {
    throw new CryptoError(`${what}: mask generation function ${identifier.oid} is not allowed (only MGF1)`);
  }
  if (!identifier.parameters) throw new RelaynetSyntaxError(`${what}: MGF1 hash is missing`);
  return readHashAlgorithmIdentifier(identifier.parameters, `${what} MGF1 hash`);
}

// ---------------------------------------------------------------------------------------------
// RSA (RS-018: RSA-PSS for signatures, RSA-OAEP for key transport, modulus ≥ 2048 bits)

export interface RsaPssParameters {
  readonly hash: HashingAlgorithm;
  readonly saltLength: number;
}

/** RSASSA-PSS AlgorithmIdentifier: hash, MGF1 with the same hash, salt as long as the hash. */
export function encodeRsaPssAlgorithmIdentifier(algorithm: HashingAlgorithm): Buffer {
  return sequence(
    oid(ALGORITHM_OIDS.RSA_PSS),
    sequence(
      explicit(0, encodeHashAlgorithmIdentifier(algorithm)),
      explicit(1, encodeMgf1(algorithm)),
      explicit(2, integer(hashInfo(algorithm).lengthOctets)),
    ),
  );
}

/**
 * Read a signature AlgorithmIdentifier, refusing anything but RSA-PSS with an allowed hash.
 * Absent PSS fields take their RFC 4055 defaults (SHA-1), which are then refused.
 */
export function readRsaPssAlgorithmIdentifier(element: Asn1Element, what: string): RsaPssParameters {
  const identifier = readAlgorithmIdentifier(element, what);
  if (identifier.oid !== ALGORITHM_OIDS.RSA_PSS) {
    throw new CryptoError(
      `${what}: signature algorithm ${describeOid(identifier.oid)} is not allowed (RS-018: RSA-PSS only)`,
    );
  }
  if (!identifier.parameters) {
    throw new CryptoError(`${what}: RSA-PSS without parameters implies SHA-1, which RS-018 forbids`);
  }
  let hash: HashingAlgorithm | null = null;
  let mgfHash: HashingAlgorithm | null = null;
  let saltLength = 20;
  let lastTag = -1;
  for (const field of expectSequence(identifier.parameters, `${what} RSA-PSS parameters`)) {
    if (field.tagClass !== TagClass.Context || field.tagNumber <= lastTag || field.tagNumber > 3) {
      throw new RelaynetSyntaxError(`${what}: unexpected RSA-PSS parameter ${field.describe()}`);
    }
    lastTag = field.tagNumber;
    const [value, ...extra] = field.children;
    if (!value || extra.length) {
      throw new RelaynetSyntaxError(`${what}: RSA-PSS parameter [${field.tagNumber}] must hold one value`);
    }
    switch (field.tagNumber) {
      case 0:
        hash = readHashAlgorithmIdentifier(value, `${what} RSA-PSS hash`);
        break;
      case 1:
        mgfHash = readMgf1(value, `${what} RSA-PSS mask generation`);
        break;
      case 2:
        saltLength = readSmallInteger(value, `${what} RSA-PSS salt length`);
        break;
      default:
        if (readSmallInteger(value, `${what} RSA-PSS trailer field`) !== 1) {
          throw new CryptoError(`${what}: RSA-PSS trailer field must be 1`);
        }
    }
  }
  if (!hash) throw new CryptoError(`${what}: RSA-PSS hash defaults to SHA-1, which RS-018 forbids`);
  if (!mgfHash) throw new CryptoError(`${what}: RSA-PSS MGF1 hash defaults to SHA-1, which RS-018 forbids`);
  if (mgfHash !== hash) {
    throw new CryptoError(`${what}: RSA-PSS uses ${hash} but MGF1 uses ${mgfHash}; they must match`);
  }
  if (saltLength < 0 || saltLength > 1024) {
    throw new CryptoError(`${what}: RSA-PSS salt length ${saltLength} is out of range`);
  }
  return { hash, saltLength };
}

/** RSAES-OAEP AlgorithmIdentifier with SHA-256 and MGF1-SHA-256 (no label), as the reference writes. */
export function encodeRsaOaepAlgorithmIdentifier(algorithm: HashingAlgorithm = 'SHA-256'): Buffer {
  return sequence(
    oid(ALGORITHM_OIDS.RSA_OAEP),
    sequence(explicit(0, encodeHashAlgorithmIdentifier(algorithm)), explicit(1, encodeMgf1(algorithm))),
  );
}

const P_SPECIFIED_OID = '1.2.840.113549.1.1.9';

/** Read a key transport AlgorithmIdentifier: RSA-OAEP only, allowed hash, MGF1 with that hash, no label. */
export function readRsaOaepAlgorithmIdentifier(element: Asn1Element, what: string): HashingAlgorithm {
  const identifier = readAlgorithmIdentifier(element, what);
  if (identifier.oid !== ALGORITHM_OIDS.RSA_OAEP) {
    throw new CryptoError(
      `${what}: key transport algorithm ${describeOid(identifier.oid)} is not allowed (RS-018: RSA-OAEP only)`,
    );
  }
  if (!identifier.parameters) {
    throw new CryptoError(`${what}: RSA-OAEP without parameters implies SHA-1, which RS-018 forbids`);
  }
  let hash: HashingAlgorithm | null = null;
  let mgfHash: HashingAlgorithm | null = null;
  let lastTag = -1;
  for (const field of expectSequence(identifier.parameters, `${what} RSA-OAEP parameters`)) {
    if (field.tagClass !== TagClass.Context || field.tagNumber <= lastTag || field.tagNumber > 2) {
      throw new RelaynetSyntaxError(`${what}: unexpected RSA-OAEP parameter ${field.describe()}`);
    }
    lastTag = field.tagNumber;
    const [value, ...extra] = field.children;
    if (!value || extra.length) {
      throw new RelaynetSyntaxError(`${what}: RSA-OAEP parameter [${field.tagNumber}] must hold one value`);
    }
    if (field.tagNumber === 0) {
      hash = readHashAlgorithmIdentifier(value, `${what} RSA-OAEP hash`);
    } else if (field.tagNumber === 1) {
      mgfHash = readMgf1(value, `${what} RSA-OAEP mask generation`);
    } else {
      const source = readAlgorithmIdentifier(value, `${what} RSA-OAEP label source`);
      const label = source.parameters ? readOctetString(source.parameters, `${what} RSA-OAEP label`) : null;
      if (source.oid !== P_SPECIFIED_OID || (label && label.length > 0)) {
        throw new CryptoError(`${what}: RSA-OAEP labels are not supported`);
      }
    }
  }
  if (!hash) throw new CryptoError(`${what}: RSA-OAEP hash defaults to SHA-1, which RS-018 forbids`);
  if (mgfHash !== hash) {
    throw new CryptoError(`${what}: RSA-OAEP MGF1 must use the OAEP hash (${hash})`);
  }
  return hash;
}

// ---------------------------------------------------------------------------------------------
// AES-CBC content encryption

export type AesKeySize = 128 | 192 | 256;

const AES_CBC_OIDS: Readonly<Record<AesKeySize, string>> = {
  128: ALGORITHM_OIDS.AES128_CBC,
  192: ALGORITHM_OIDS.AES192_CBC,
  256: ALGORITHM_OIDS.AES256_CBC,
};

const AES_KW_OIDS: Readonly<Record<AesKeySize, string>> = {
  128: ALGORITHM_OIDS.AES128_KW,
  192: ALGORITHM_OIDS.AES192_KW,
  256: ALGORITHM_OIDS.AES256_KW,
};

const AES_BLOCK_OCTETS = 16;

export function assertAesKeySize(size: unknown): AesKeySize {
  if (size !== 128 && size !== 192 && size !== 256) {
    throw new CryptoError(`Invalid AES key size ${String(size)} (allowed: 128, 192, 256)`);
  }
  return size;
}

export function aesCbcOid(size: AesKeySize): string {
  return AES_CBC_OIDS[size];
}

function aesSizeFromOid(table: Readonly<Record<AesKeySize, string>>, dotted: string): AesKeySize | null {
  for (const size of [128, 192, 256] as const) {
    if (table[size] === dotted) return size;
  }
  return null;
}

export interface ContentEncryptionAlgorithm {
  readonly keySize: AesKeySize;
  readonly iv: Buffer;
}

export function encodeAesCbcAlgorithmIdentifier(size: AesKeySize, iv: Buffer): Buffer {
  return sequence(oid(aesCbcOid(size)), octetString(iv));
}

export function readContentEncryptionAlgorithm(element: Asn1Element, what: string): ContentEncryptionAlgorithm {
  const identifier = readAlgorithmIdentifier(element, what);
  const keySize = aesSizeFromOid(AES_CBC_OIDS, identifier.oid);
  if (!keySize) {
    throw new CryptoError(
      `${what}: content encryption algorithm ${describeOid(identifier.oid)} is not allowed (AES-CBC only)`,
    );
  }
  if (!identifier.parameters) throw new RelaynetSyntaxError(`${what}: AES-CBC IV is missing`);
  const iv = readOctetString(identifier.parameters, `${what} IV`);
  if (iv.length !== AES_BLOCK_OCTETS) {
    throw new RelaynetSyntaxError(`${what}: AES-CBC IV must be 16 octets, got ${iv.length}`);
  }
  return { keySize, iv };
}

/** AES-CBC with PKCS#7 padding; the plaintext may come in chunks (it is never joined). */
export function aesCbcEncrypt(key: Buffer, iv: Buffer, plaintext: Buffer | readonly Buffer[]): Buffer[] {
  const cipher = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  const output: Buffer[] = [];
  for (const chunk of Buffer.isBuffer(plaintext) ? [plaintext] : plaintext) {
    const body = cipher.update(chunk);
    if (body.length) output.push(body);
  }
  output.push(cipher.final());
  return output;
}

/** The length of the AES-CBC ciphertext (PKCS#7 padding adds 1 to 16 octets) of a plaintext. */
export function aesCbcCiphertextLength(plaintextLength: number): number {
  return (Math.floor(plaintextLength / AES_BLOCK_OCTETS) + 1) * AES_BLOCK_OCTETS;
}

/**
 * Node's cipher allocates each update's output at the input's length plus a block and then copies
 * it to its exact length, so one update over 8 MiB briefly holds 16 MiB; slices bound that.
 */
const AES_CBC_SLICE_OCTETS = 64 * 1024;

/**
 * AES-CBC with PKCS#7 padding, written into `target` at `offset` (exactly
 * aesCbcCiphertextLength(plaintext length) octets), so the caller's output holds the only copy.
 */
export function aesCbcEncryptInto(
  key: Buffer,
  iv: Buffer,
  plaintext: readonly Buffer[],
  target: Buffer,
  offset: number,
): void {
  const cipher = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  let position = offset;
  for (const chunk of plaintext) {
    for (let start = 0; start < chunk.length; start += AES_CBC_SLICE_OCTETS) {
      position += cipher.update(chunk.subarray(start, start + AES_CBC_SLICE_OCTETS)).copy(target, position);
    }
  }
  position += cipher.final().copy(target, position);
  const plaintextLength = plaintext.reduce((sum, chunk) => sum + chunk.length, 0);
  if (position - offset !== aesCbcCiphertextLength(plaintextLength)) {
    throw new CryptoError('AES-CBC produced an unexpected ciphertext length');
  }
}

/** AES-CBC decryption; the padding is checked here so the plaintext is a view, not a copy. */
export function aesCbcDecrypt(key: Buffer, iv: Buffer, ciphertext: Buffer): Buffer {
  if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK_OCTETS !== 0) {
    throw new CryptoError(
      `AES-CBC ciphertext length ${ciphertext.length} is not a positive multiple of the block size`,
    );
  }
  let padded: Buffer;
  try {
    const decipher = createDecipheriv(`aes-${key.length * 8}-cbc`, key, iv);
    decipher.setAutoPadding(false);
    if (ciphertext.length <= AES_CBC_SLICE_OCTETS) {
      padded = decipher.update(ciphertext);
    } else {
      // In slices, into one buffer: for one update, Node would allocate the plaintext twice over (at
      // the input length plus a block, then copied to the exact length), both resident at once.
      padded = Buffer.allocUnsafe(ciphertext.length);
      let position = 0;
      for (let start = 0; start < ciphertext.length; start += AES_CBC_SLICE_OCTETS) {
        position += decipher.update(ciphertext.subarray(start, start + AES_CBC_SLICE_OCTETS)).copy(padded, position);
      }
      // Without padding, whole blocks in give as many out; anything else would expose unset memory.
      if (position !== ciphertext.length) throw new Error(`Deciphered ${position} of ${ciphertext.length} octets`);
    }
    const rest = decipher.final();
    if (rest.length) padded = Buffer.concat([padded, rest]);
  } catch (err) {
    throw new CryptoError('AES-CBC decryption failed', { cause: err });
  }
  const padLength = padded[padded.length - 1];
  let bad = padLength === 0 || padLength > AES_BLOCK_OCTETS ? 1 : 0;
  const checked = Math.min(Math.max(padLength, 1), AES_BLOCK_OCTETS);
  for (let i = 1; i <= checked; i++) {
    bad |= padded[padded.length - i] ^ padLength;
  }
  if (bad !== 0) {
    throw new CryptoError('AES-CBC decryption failed: invalid padding (wrong key or corrupted ciphertext)');
  }
  return padded.subarray(0, padded.length - padLength);
}

// ---------------------------------------------------------------------------------------------
// Key agreement: ECDH + X9.63 KDF (RFC 5753 / RFC 6318) + AES key wrap

export type EcdhCurve = 'P-256' | 'P-384' | 'P-521';

interface CurveInfo {
  readonly name: EcdhCurve;
  readonly oid: string;
  readonly nodeName: string;
}

const CURVES: readonly CurveInfo[] = [
  { name: 'P-256', oid: ALGORITHM_OIDS.P256, nodeName: 'prime256v1' },
  { name: 'P-384', oid: ALGORITHM_OIDS.P384, nodeName: 'secp384r1' },
  { name: 'P-521', oid: ALGORITHM_OIDS.P521, nodeName: 'secp521r1' },
];

/** The allowed curve of an EC key, or a CryptoError. */
export function ecdhCurveOfKey(key: KeyObject, what: string): CurveInfo {
  if (key.asymmetricKeyType !== 'ec') {
    throw new CryptoError(`${what} must be an EC key, got ${key.asymmetricKeyType ?? key.type}`);
  }
  const nodeName = key.asymmetricKeyDetails?.namedCurve;
  const curve = CURVES.find((c) => c.nodeName === nodeName);
  if (!curve) {
    throw new CryptoError(`${what} uses curve ${String(nodeName)}; allowed: P-256, P-384, P-521`);
  }
  return curve;
}

export function curveFromOid(dotted: string, what: string): CurveInfo {
  const curve = CURVES.find((c) => c.oid === dotted);
  if (!curve) throw new CryptoError(`${what}: curve ${dotted} is not allowed (P-256, P-384, P-521)`);
  return curve;
}

/** KDF schemes (SEC 1 / RFC 5753 dhSinglePass-stdDH-sha*kdf-scheme) and the hash each uses. */
const KDF_SCHEMES: Readonly<Record<string, HashingAlgorithm>> = {
  [ALGORITHM_OIDS.DH_SINGLE_PASS_STD_DH_SHA256_KDF]: 'SHA-256',
  [ALGORITHM_OIDS.DH_SINGLE_PASS_STD_DH_SHA384_KDF]: 'SHA-384',
  [ALGORITHM_OIDS.DH_SINGLE_PASS_STD_DH_SHA512_KDF]: 'SHA-512',
};

/** What we write: SHA-512 KDF and AES-256 key wrap, like the reference implementation. */
export const SESSION_KDF_SCHEME_OID = ALGORITHM_OIDS.DH_SINGLE_PASS_STD_DH_SHA512_KDF;
export const SESSION_KEY_WRAP_SIZE: AesKeySize = 256;

export interface KeyAgreementAlgorithm {
  readonly kdfHash: HashingAlgorithm;
  readonly keyWrapOid: string;
  readonly keyWrapSize: AesKeySize;
  /** Whether the key wrap AlgorithmIdentifier carried a NULL (it then goes into the KDF SharedInfo). */
  readonly keyWrapHasNullParameters: boolean;
}

export function encodeKeyAgreementAlgorithmIdentifier(): Buffer {
  return sequence(oid(SESSION_KDF_SCHEME_OID), sequence(oid(AES_KW_OIDS[SESSION_KEY_WRAP_SIZE])));
}

export function readKeyAgreementAlgorithm(element: Asn1Element, what: string): KeyAgreementAlgorithm {
  const identifier = readAlgorithmIdentifier(element, what);
  const kdfHash = KDF_SCHEMES[identifier.oid];
  if (!kdfHash) {
    throw new CryptoError(
      `${what}: key agreement scheme ${describeOid(identifier.oid)} is not allowed ` +
        '(dhSinglePass-stdDH-sha256/384/512kdf-scheme only)',
    );
  }
  if (!identifier.parameters) throw new RelaynetSyntaxError(`${what}: key wrap algorithm is missing`);
  const wrap = readAlgorithmIdentifier(identifier.parameters, `${what} key wrap algorithm`);
  const keyWrapSize = aesSizeFromOid(AES_KW_OIDS, wrap.oid);
  if (!keyWrapSize) {
    throw new CryptoError(`${what}: key wrap algorithm ${describeOid(wrap.oid)} is not allowed (AES-KW only)`);
  }
  if (!isAbsentOrNull(wrap.parameters)) {
    throw new RelaynetSyntaxError(`${what}: AES key wrap parameters must be absent`);
  }
  return { kdfHash, keyWrapOid: wrap.oid, keyWrapSize, keyWrapHasNullParameters: wrap.parameters !== null };
}

/**
 * DER ECC-CMS-SharedInfo (RFC 5753 §7.2): the key wrap AlgorithmIdentifier, the UKM if any, and the
 * KEK length in bits as four big-endian octets.
 */
export function eccCmsSharedInfo(
  keyWrapOid: string,
  keyWrapBits: number,
  ukm: Buffer | null,
  withNullParameters: boolean,
): Buffer {
  const keyInfo = withNullParameters ? sequence(oid(keyWrapOid), nullValue()) : sequence(oid(keyWrapOid));
  const suppPubInfo = Buffer.alloc(4);
  suppPubInfo.writeUInt32BE(keyWrapBits);
  const items = [keyInfo];
  if (ukm) items.push(explicit(0, octetString(ukm)));
  items.push(explicit(2, octetString(suppPubInfo)));
  return sequence(...items);
}

/** ANSI X9.63 KDF: Hash(Z ‖ counter ‖ SharedInfo) for counter = 1, 2, …, truncated. */
export function x963Kdf(
  hash: HashingAlgorithm,
  sharedSecret: Buffer,
  lengthOctets: number,
  sharedInfo: Buffer,
): Buffer {
  const { nodeName, lengthOctets: hashOctets } = hashInfo(hash);
  const rounds = Math.ceil(lengthOctets / hashOctets);
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 1; i <= rounds; i++) {
    counter.writeUInt32BE(i);
    blocks.push(createHash(nodeName).update(sharedSecret).update(counter).update(sharedInfo).digest());
  }
  return Buffer.concat(blocks).subarray(0, lengthOctets);
}

const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

export function aesKeyWrap(kek: Buffer, key: Buffer): Buffer {
  const cipher = createCipheriv(`id-aes${kek.length * 8}-wrap`, kek, AES_KW_IV);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

/** AES key unwrap; an integrity failure (wrong KEK) is a CryptoError. */
export function aesKeyUnwrap(kek: Buffer, wrapped: Buffer): Buffer {
  if (wrapped.length < 24 || wrapped.length % 8 !== 0) {
    throw new CryptoError(`Wrapped key length ${wrapped.length} is invalid for AES key wrap`);
  }
  try {
    const decipher = createDecipheriv(`id-aes${kek.length * 8}-wrap`, kek, AES_KW_IV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch (err) {
    throw new CryptoError('AES key unwrap failed (wrong key or corrupted value)', { cause: err });
  }
}

/** Import an EC SubjectPublicKeyInfo, refusing curves outside the allow-list. */
export function importEcPublicKey(spkiDer: Buffer, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = importSpki(spkiDer);
  } catch (err) {
    throw new RelaynetSyntaxError(`${what}: invalid EC public key`, { cause: err });
  }
  ecdhCurveOfKey(key, what);
  return key;
}
