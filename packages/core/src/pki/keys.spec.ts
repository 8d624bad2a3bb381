import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  ECDH,
  generateKeyPairSync,
  KeyObject,
} from 'node:crypto';
import * as ref from '@relaycorp/relaynet-core';

import { bitString, integer, octetString, oid, sequence } from '../asn1/encode';
import { CryptoError, RelaynetSyntaxError } from '../errors';
import { ALGORITHM_OIDS } from '../oids';
import { getRsaKeyPairs, getWeakRsaKeyPair } from '../testUtils/pki';
import {
  assertRsaKey,
  derDeserializeEcdhPrivateKey,
  derDeserializeEcdhPublicKey,
  derDeserializeRsaPrivateKey,
  derDeserializeRsaPublicKey,
  derSerializePrivateKey,
  derSerializePublicKey,
  generateEcdhKeyPair,
  generateRsaKeyPair,
  generateSessionKeyPair,
  getIdFromIdentityKey,
  getIdFromSpki,
  getPublicKeyDigest,
  importSpki,
  KeyPair,
  RsaModulus,
} from './keys';

let rsa: KeyPair;
let ecdh: KeyPair;

beforeAll(async () => {
  [rsa] = await getRsaKeyPairs();
  ecdh = await generateEcdhKeyPair();
});

function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

describe('generateRsaKeyPair', () => {
  test('defaults to a 2048-bit RSA key pair whose halves match', async () => {
    const { publicKey, privateKey } = await generateRsaKeyPair();
    expect(publicKey.type).toBe('public');
    expect(privateKey.type).toBe('private');
    expect(publicKey.asymmetricKeyType).toBe('rsa');
    expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(publicKey.asymmetricKeyDetails?.publicExponent).toBe(65537n);
    expect(spkiOf(createPublicKey(privateKey))).toEqual(spkiOf(publicKey));
  });

  test('honours a 3072-bit modulus', async () => {
    const { publicKey } = await generateRsaKeyPair(3072);
    expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
  });

  test.each([1024, 2047, 2049, 8192])('refuses a %i-bit modulus', async (modulus) => {
    await expect(generateRsaKeyPair(modulus as RsaModulus)).rejects.toThrow(CryptoError);
    await expect(generateRsaKeyPair(modulus as RsaModulus)).rejects.toThrow(
      `Unsupported RSA modulus ${modulus}: it must be one of 2048, 3072, 4096`,
    );
  });
});

describe('generateEcdhKeyPair', () => {
  test.each([
    [undefined, 'prime256v1'],
    ['P-256', 'prime256v1'],
    ['P-384', 'secp384r1'],
    ['P-521', 'secp521r1'],
  ] as const)('curve %s is %s', async (curve, nodeName) => {
    const { publicKey, privateKey } = await generateEcdhKeyPair(curve);
    expect(publicKey.asymmetricKeyType).toBe('ec');
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe(nodeName);
    expect(spkiOf(createPublicKey(privateKey))).toEqual(spkiOf(publicKey));
  });

  test('refuses other curves', async () => {
    await expect(generateEcdhKeyPair('P-192' as never)).rejects.toThrow(CryptoError);
  });
});

describe('generateSessionKeyPair', () => {
  test('makes a P-256 key pair with a random 8-octet id', async () => {
    const [a, b] = await Promise.all([generateSessionKeyPair(), generateSessionKeyPair()]);
    expect(a.sessionKey.keyId).toHaveLength(8);
    expect(a.sessionKey.keyId.equals(b.sessionKey.keyId)).toBe(false);
    expect(a.sessionKey.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(spkiOf(createPublicKey(a.privateKey))).toEqual(spkiOf(a.sessionKey.publicKey));
  });
});

describe('getIdFromIdentityKey', () => {
  test('is "0" followed by the hex SHA-256 of the SPKI DER', () => {
    const expected = '0' + createHash('sha256').update(spkiOf(rsa.publicKey)).digest('hex');
    expect(getIdFromIdentityKey(rsa.publicKey)).toBe(expected);
    expect(getIdFromIdentityKey(rsa.publicKey)).toMatch(/^0[0-9a-f]{64}$/);
    expect(getIdFromSpki(spkiOf(rsa.publicKey))).toBe(expected);
    expect(getPublicKeyDigest(spkiOf(rsa.publicKey)).toString('hex')).toBe(expected.slice(1));
  });

  test('gives the same id for the private key', () => {
    expect(getIdFromIdentityKey(rsa.privateKey)).toBe(getIdFromIdentityKey(rsa.publicKey));
  });

  test('gives the same id for an equal key object (cache not confused)', () => {
    const copy = createPublicKey({ key: spkiOf(rsa.publicKey), format: 'der', type: 'spki' });
    expect(getIdFromIdentityKey(copy)).toBe(getIdFromIdentityKey(rsa.publicKey));
  });

  test('matches the reference implementation', async () => {
    const refKey = await ref.derDeserializeRSAPublicKey(spkiOf(rsa.publicKey));
    expect(getIdFromIdentityKey(rsa.publicKey)).toBe(await ref.getIdFromIdentityKey(refKey));
  });

  test('refuses non-RSA keys and keys under 2048 bits', () => {
    expect(() => getIdFromIdentityKey(ecdh.publicKey)).toThrow(CryptoError);
    expect(() => getIdFromIdentityKey(ecdh.publicKey)).toThrow('Identity key must be an RSA key (got ec)');
    expect(() => getIdFromIdentityKey(getWeakRsaKeyPair().publicKey)).toThrow(
      'Identity key must have a modulus of at least 2048 bits (got 1024)',
    );
  });
});

describe('serialisation', () => {
  test('derSerializePublicKey gives the SPKI DER (also from a private key)', () => {
    expect(derSerializePublicKey(rsa.publicKey)).toEqual(spkiOf(rsa.publicKey));
    expect(derSerializePublicKey(rsa.privateKey)).toEqual(spkiOf(rsa.publicKey));
  });

  test('derSerializePrivateKey gives PKCS#8 DER', () => {
    const der = derSerializePrivateKey(rsa.privateKey);
    expect(der).toEqual(rsa.privateKey.export({ type: 'pkcs8', format: 'der' }));
    expect(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).equals(rsa.privateKey)).toBe(true);
  });

  test('serialisers refuse the wrong kinds of key', () => {
    expect(() => derSerializePrivateKey(rsa.publicKey)).toThrow(TypeError);
    expect(() => derSerializePublicKey({} as KeyObject)).toThrow(TypeError);
  });

  test('RSA keys round-trip', () => {
    const publicKey = derDeserializeRsaPublicKey(derSerializePublicKey(rsa.publicKey));
    const privateKey = derDeserializeRsaPrivateKey(derSerializePrivateKey(rsa.privateKey));
    expect(publicKey.equals(rsa.publicKey)).toBe(true);
    expect(privateKey.equals(rsa.privateKey)).toBe(true);
  });

  test('ECDH keys round-trip', () => {
    const publicKey = derDeserializeEcdhPublicKey(derSerializePublicKey(ecdh.publicKey));
    const privateKey = derDeserializeEcdhPrivateKey(derSerializePrivateKey(ecdh.privateKey));
    expect(publicKey.equals(ecdh.publicKey)).toBe(true);
    expect(privateKey.equals(ecdh.privateKey)).toBe(true);
  });

  test('RSA deserialisers refuse EC keys, weak keys and garbage', () => {
    const weak = getWeakRsaKeyPair();
    expect(() => derDeserializeRsaPublicKey(spkiOf(ecdh.publicKey))).toThrow(RelaynetSyntaxError);
    expect(() => derDeserializeRsaPrivateKey(derSerializePrivateKey(ecdh.privateKey))).toThrow(
      'RSA private key must be an RSA key (got ec)',
    );
    expect(() => derDeserializeRsaPublicKey(spkiOf(weak.publicKey))).toThrow(
      'RSA public key must have a modulus of at least 2048 bits (got 1024)',
    );
    expect(() => derDeserializeRsaPrivateKey(derSerializePrivateKey(weak.privateKey))).toThrow(RelaynetSyntaxError);
    let error: unknown;
    try {
      derDeserializeRsaPublicKey(Buffer.from('not a key'));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RelaynetSyntaxError);
    expect((error as Error).message).toBe('RSA public key is not a valid SubjectPublicKeyInfo DER value');
    expect((error as Error).cause).toHaveProperty('code'); // node's own error (another realm under jest)
  });

  test('a PKCS#8 value is not accepted as a public key, nor SPKI as a private key', () => {
    expect(() => derDeserializeRsaPublicKey(derSerializePrivateKey(rsa.privateKey))).toThrow(RelaynetSyntaxError);
    expect(() => derDeserializeRsaPrivateKey(spkiOf(rsa.publicKey))).toThrow(
      'RSA private key is not a valid PKCS#8 DER value',
    );
  });

  test('ECDH deserialisers refuse RSA keys and unsupported curves', () => {
    const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    expect(() => derDeserializeEcdhPublicKey(spkiOf(rsa.publicKey))).toThrow(
      'ECDH public key must be an EC key (got rsa)',
    );
    expect(() => derDeserializeEcdhPrivateKey(derSerializePrivateKey(rsa.privateKey))).toThrow(RelaynetSyntaxError);
    expect(() => derDeserializeEcdhPublicKey(spkiOf(k256.publicKey))).toThrow(
      'ECDH public key uses an unsupported curve (secp256k1)',
    );
    expect(() => derDeserializeEcdhPrivateKey(Buffer.alloc(0))).toThrow(RelaynetSyntaxError);
  });

  test('keys cross to and from the reference implementation as DER', async () => {
    const refPrivate = await ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(rsa.privateKey));
    expect(await ref.derSerializePrivateKey(refPrivate)).toEqual(derSerializePrivateKey(rsa.privateKey));
    const refPair = await ref.generateRSAKeyPair();
    const publicKey = derDeserializeRsaPublicKey(await ref.derSerializePublicKey(refPair.publicKey));
    const privateKey = derDeserializeRsaPrivateKey(await ref.derSerializePrivateKey(refPair.privateKey));
    expect(spkiOf(createPublicKey(privateKey))).toEqual(spkiOf(publicKey));
    expect(getIdFromIdentityKey(publicKey)).toBe(await ref.getIdFromIdentityKey(refPair.publicKey));

    const refEcdh = await ref.generateECDHKeyPair('P-256');
    const ecdhPublic = derDeserializeEcdhPublicKey(await ref.derSerializePublicKey(refEcdh.publicKey));
    expect(ecdhPublic.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });
});

describe('assertRsaKey', () => {
  test('checks the key kind when asked', () => {
    expect(() => assertRsaKey(rsa.publicKey, 'Key', CryptoError, 'public')).not.toThrow();
    expect(() => assertRsaKey(rsa.publicKey, 'Key', CryptoError, 'private')).toThrow(
      'Key must be a private key (got a public key)',
    );
    expect(() => assertRsaKey('x' as unknown as KeyObject, 'Key')).toThrow(TypeError);
  });
});

describe('DER codec fast paths agree with OpenSSL', () => {
  const curves = [
    ['prime256v1', 'P-256', ALGORITHM_OIDS.P256],
    ['secp384r1', 'P-384', ALGORITHM_OIDS.P384],
    ['secp521r1', 'P-521', ALGORITHM_OIDS.P521],
  ] as const;

  test("RSA: SPKI and PKCS#8 are byte-identical to node's, and import back to the same key", async () => {
    for (const pair of (await getRsaKeyPairs()).slice(0, 3)) {
      const spki = derSerializePublicKey(pair.publicKey);
      const pkcs8 = derSerializePrivateKey(pair.privateKey);
      expect(spki).toEqual(pair.publicKey.export({ type: 'spki', format: 'der' }));
      expect(pkcs8).toEqual(pair.privateKey.export({ type: 'pkcs8', format: 'der' }));
      expect(derDeserializeRsaPublicKey(spki).equals(pair.publicKey)).toBe(true);
      expect(derDeserializeRsaPrivateKey(pkcs8).equals(pair.privateKey)).toBe(true);
      expect(importSpki(spki).equals(pair.publicKey)).toBe(true);
    }
  });

  test.each(curves)("EC %s: SPKI and PKCS#8 are byte-identical to node's and round-trip", (nodeCurve) => {
    for (let i = 0; i < 5; i++) {
      const pair = generateKeyPairSync('ec', { namedCurve: nodeCurve });
      const spki = derSerializePublicKey(pair.publicKey);
      const pkcs8 = derSerializePrivateKey(pair.privateKey);
      expect(spki).toEqual(pair.publicKey.export({ type: 'spki', format: 'der' }));
      expect(pkcs8).toEqual(pair.privateKey.export({ type: 'pkcs8', format: 'der' }));
      expect(derDeserializeEcdhPublicKey(spki).equals(pair.publicKey)).toBe(true);
      expect(derDeserializeEcdhPrivateKey(pkcs8).equals(pair.privateKey)).toBe(true);
    }
  });

  test('importSpki tells apart keys whose SPKI differ only away from their end', () => {
    // Imported keys are cached under their last octets: another key with the same ones
    // (here, another modulus) must still be imported for itself.
    const spki = spkiOf(rsa.publicKey);
    const other = Buffer.from(spki);
    other[100] ^= 0x01;
    expect(importSpki(spki).equals(rsa.publicKey)).toBe(true);
    expect(spkiOf(importSpki(other))).toEqual(other);
    expect(importSpki(spki).equals(rsa.publicKey)).toBe(true);
  });

  test("importSpki's cache keeps its own copy: a caller reusing its buffer does not lose the entry", () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const reused = spkiOf(publicKey);
    const imported = importSpki(reused);
    expect(imported.equals(publicKey)).toBe(true);
    reused.fill(0);
    expect(importSpki(spkiOf(publicKey))).toBe(imported);
  });

  test('the cached SPKI cannot be corrupted through a returned buffer', () => {
    const first = derSerializePublicKey(rsa.publicKey);
    first.fill(0);
    expect(derSerializePublicKey(rsa.publicKey)).toEqual(spkiOf(rsa.publicKey));
  });

  test('RSA-PSS SPKI (not the fast path) still imports', () => {
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
    const spki = spkiOf(pss.publicKey);
    expect(derDeserializeRsaPublicKey(spki).equals(pss.publicKey)).toBe(true);
    expect(derSerializePublicKey(pss.publicKey)).toEqual(spki);
    const pkcs8 = pss.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(derDeserializeRsaPrivateKey(pkcs8).equals(pss.privateKey)).toBe(true);
    expect(derSerializePrivateKey(pss.privateKey)).toEqual(pkcs8);
  });

  test('a compressed EC point (not the fast path) still imports', () => {
    const ecdhKey = createECDH('prime256v1');
    ecdhKey.generateKeys();
    const compressed = ECDH.convertKey(
      ecdhKey.getPublicKey(),
      'prime256v1',
      undefined,
      undefined,
      'compressed',
    ) as Buffer;
    const spki = sequence(sequence(oid(ALGORITHM_OIDS.EC_PUBLIC_KEY), oid(ALGORITHM_OIDS.P256)), bitString(compressed));
    const key = derDeserializeEcdhPublicKey(spki);
    const uncompressed = sequence(
      sequence(oid(ALGORITHM_OIDS.EC_PUBLIC_KEY), oid(ALGORITHM_OIDS.P256)),
      bitString(ecdhKey.getPublicKey()),
    );
    expect(key.equals(derDeserializeEcdhPublicKey(uncompressed))).toBe(true);
  });

  test('an EC private key without its public key (not the fast path) still imports', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const d = Buffer.from(pair.privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const pkcs8 = sequence(
      integer(0),
      sequence(oid(ALGORITHM_OIDS.EC_PUBLIC_KEY), oid(ALGORITHM_OIDS.P256)),
      octetString(sequence(integer(1), octetString(d))),
    );
    expect(derDeserializeEcdhPrivateKey(pkcs8).equals(pair.privateKey)).toBe(true);
  });

  test('an EC point not on the curve is refused', () => {
    const point = Buffer.concat([Buffer.from([4]), Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);
    const spki = sequence(sequence(oid(ALGORITHM_OIDS.EC_PUBLIC_KEY), oid(ALGORITHM_OIDS.P256)), bitString(point));
    expect(() => derDeserializeEcdhPublicKey(spki)).toThrow(RelaynetSyntaxError);
  });

  test('an RSA SPKI with a malformed RSAPublicKey is refused', () => {
    const spki = sequence(
      sequence(oid(ALGORITHM_OIDS.RSA_ENCRYPTION), Buffer.from([5, 0])),
      bitString(Buffer.from([0x30, 0x00])),
    );
    expect(() => derDeserializeRsaPublicKey(spki)).toThrow(
      'RSA public key is not a valid SubjectPublicKeyInfo DER value',
    );
  });
});
