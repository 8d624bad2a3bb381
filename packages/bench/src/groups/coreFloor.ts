/**
 * The raw-crypto floor: the cryptographic operations a parcel or cargo needs, with node:crypto
 * directly and nothing else (no ASN.1, no certificate parsing, no copies beyond what the ciphers
 * return). RSA-PSS signing and verification run in libuv's threadpool (callback API), as in
 * @twitter-relaynet/core; RSA-OAEP, ECDH and the ciphers are synchronous in node, there too.
 *
 * Per message:
 * - sessionless serialize: AES-128-CBC of the plaintext, RSA-OAEP (SHA-256) encryption of the
 *   16-octet content key, SHA-256 of the content, RSA-PSS signature of the signed attributes;
 * - sessionless unwrap: SHA-256 of the content, RSA-PSS verification of the message and of the
 *   sender's certificate (as validation does: one certificate signature for PDA ← endpoint),
 *   RSA-OAEP decryption of the content key, AES-128-CBC decryption;
 * - session serialize: ephemeral P-256 key generation (threadpool, as in core), ECDH, X9.63 KDF
 *   with SHA-512, AES-256 key wrap, export of the ephemeral public key, AES-128-CBC, SHA-256,
 *   RSA-PSS signature;
 * - session unwrap: SHA-256, two RSA-PSS verifications, import of the originator's ephemeral key
 *   (it is new in every message), ECDH, KDF, AES key unwrap, AES-128-CBC decryption.
 *
 * Long-lived keys (the sender's and issuer's public keys, the recipient's private keys) are
 * imported once: an implementation may cache them by certificate.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } as const;
const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;
const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
/** X9.63 SharedInfo for AES-256 key wrap (ECC-CMS-SharedInfo), as written for session keys. */
const SHARED_INFO = Buffer.from('3015300b0609608648016503040105a20604040000010000'.replace(/\s/g, ''), 'hex');
/** A SignedData's signed attributes are about this long (content type and message digest). */
const SIGNED_ATTRIBUTES_PREFIX = Buffer.alloc(61, 0x31);

export function rsaPssSign(data: Buffer, privateKey: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign('sha256', data, { key: privateKey, ...PSS }, (error, signature) =>
      error ? reject(error) : resolve(signature),
    );
  });
}

export function rsaPssVerify(data: Buffer, publicKey: KeyObject, signature: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    verify('sha256', data, { key: publicKey, ...PSS }, signature, (error, valid) => {
      if (error) reject(error);
      else if (!valid) reject(new Error('floor: signature does not verify'));
      else resolve();
    });
  });
}

function ecKeyPair(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve: 'prime256v1' }, (error, publicKey, privateKey) =>
      error ? reject(error) : resolve({ publicKey, privateKey }),
    );
  });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
const signedAttributes = (digest: Buffer) => Buffer.concat([SIGNED_ATTRIBUTES_PREFIX, digest]);

function kdf(sharedSecret: Buffer): Buffer {
  return createHash('sha512')
    .update(sharedSecret)
    .update(Buffer.from([0, 0, 0, 1]))
    .update(SHARED_INFO)
    .digest()
    .subarray(0, 32);
}

function aesCbc(encrypt: boolean, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const cipher = encrypt ? createCipheriv('aes-128-cbc', key, iv) : createDecipheriv('aes-128-cbc', key, iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

function keyWrap(encrypt: boolean, kek: Buffer, key: Buffer): Buffer {
  const cipher = encrypt
    ? createCipheriv('id-aes256-wrap', kek, AES_KW_IV)
    : createDecipheriv('id-aes256-wrap', kek, AES_KW_IV);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

export interface FloorKeys {
  /** Signs messages. */
  readonly senderPrivateKey: KeyObject;
  readonly senderPublicKey: KeyObject;
  /** Issued the sender's certificate. */
  readonly issuerPublicKey: KeyObject;
  readonly recipientRsaPublicKey: KeyObject;
  readonly recipientRsaPrivateKey: KeyObject;
  readonly recipientSessionPublicKey: KeyObject;
  readonly recipientSessionPrivateKey: KeyObject;
  /** The sender's certificate: its DER stands for the TBS, with a signature by the issuer over it. */
  readonly senderCertificateTbs: Buffer;
  readonly senderCertificateSignature: Buffer;
}

/** What a serialized message carries, for the unwrap floor. */
export interface FloorMessage {
  readonly ciphertext: Buffer;
  readonly iv: Buffer;
  readonly signature: Buffer;
  /** Sessionless: the RSA-OAEP encrypted key. Session: the wrapped key. */
  readonly encryptedKey: Buffer;
  /** Session only: the originator's ephemeral public key (SPKI DER). */
  readonly originatorKey: Buffer | null;
}

export async function floorSerializeSessionless(keys: FloorKeys, plaintext: Buffer): Promise<FloorMessage> {
  const contentKey = randomBytes(16);
  const iv = randomBytes(16);
  const ciphertext = aesCbc(true, contentKey, iv, plaintext);
  const encryptedKey = publicEncrypt({ key: keys.recipientRsaPublicKey, ...OAEP }, contentKey);
  const signature = await rsaPssSign(signedAttributes(sha256(ciphertext)), keys.senderPrivateKey);
  return { ciphertext, iv, signature, encryptedKey, originatorKey: null };
}

export async function floorSerializeSession(keys: FloorKeys, plaintext: Buffer): Promise<FloorMessage> {
  const ephemeral = await ecKeyPair();
  const kek = kdf(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: keys.recipientSessionPublicKey }));
  const contentKey = randomBytes(16);
  const encryptedKey = keyWrap(true, kek, contentKey);
  const originatorKey = ephemeral.publicKey.export({ format: 'der', type: 'spki' });
  const iv = randomBytes(16);
  const ciphertext = aesCbc(true, contentKey, iv, plaintext);
  const signature = await rsaPssSign(signedAttributes(sha256(ciphertext)), keys.senderPrivateKey);
  return { ciphertext, iv, signature, encryptedKey, originatorKey };
}

/** Verify the message's signature and the sender certificate's (what validation adds). */
async function floorVerify(keys: FloorKeys, message: FloorMessage): Promise<void> {
  await rsaPssVerify(signedAttributes(sha256(message.ciphertext)), keys.senderPublicKey, message.signature);
  await rsaPssVerify(keys.senderCertificateTbs, keys.issuerPublicKey, keys.senderCertificateSignature);
}

export async function floorUnwrap(keys: FloorKeys, message: FloorMessage): Promise<Buffer> {
  await floorVerify(keys, message);
  let contentKey: Buffer;
  if (message.originatorKey === null) {
    contentKey = privateDecrypt({ key: keys.recipientRsaPrivateKey, ...OAEP }, message.encryptedKey);
  } else {
    const originatorKey = createPublicKey({ key: message.originatorKey, format: 'der', type: 'spki' });
    const kek = kdf(diffieHellman({ privateKey: keys.recipientSessionPrivateKey, publicKey: originatorKey }));
    contentKey = keyWrap(false, kek, message.encryptedKey);
  }
  return aesCbc(false, contentKey, message.iv, message.ciphertext);
}

/**
 * Cargo unwrap floor: the cargo itself (session), then each parcel's signature (the parcels are
 * deserialized, which verifies their signatures; they are not decrypted: that is the recipient's).
 * A parcel's `content` is what its signature digests: its RAMF fields, not the whole parcel.
 */
export async function floorUnwrapCargo(
  cargoKeys: FloorKeys,
  cargo: FloorMessage,
  parcelKeys: FloorKeys,
  parcels: readonly { readonly content: Buffer; readonly signature: Buffer }[],
): Promise<void> {
  await floorUnwrap(cargoKeys, cargo);
  await Promise.all(
    parcels.map((parcel) =>
      rsaPssVerify(signedAttributes(sha256(parcel.content)), parcelKeys.senderPublicKey, parcel.signature),
    ),
  );
}

/** A signature as the parcels in a floor cargo carry, over content of the given length. */
export async function floorSignContent(keys: FloorKeys, content: Buffer): Promise<Buffer> {
  return rsaPssSign(signedAttributes(sha256(content)), keys.senderPrivateKey);
}

/** One RSA-OAEP (SHA-256) decryption of a 16-octet key: synchronous in node. */
export function floorOaepDecrypt(keys: FloorKeys, encryptedKey: Buffer): Buffer {
  return privateDecrypt({ key: keys.recipientRsaPrivateKey, ...OAEP }, encryptedKey);
}

export function floorOaepEncrypt(keys: FloorKeys, key: Buffer): Buffer {
  return publicEncrypt({ key: keys.recipientRsaPublicKey, ...OAEP }, key);
}
