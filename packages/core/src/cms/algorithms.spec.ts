import { createDecipheriv, createHash } from 'node:crypto';

import { decodeAsn1 } from '../asn1/decode';
import { explicit, integer, nullValue, octetString, oid, sequence } from '../asn1/encode';
import { CryptoError, RelaynetSyntaxError } from '../errors';
import { ALGORITHM_OIDS } from '../oids';
import {
  aesCbcCiphertextLength,
  aesCbcDecrypt,
  aesCbcEncrypt,
  aesCbcEncryptInto,
  aesKeyUnwrap,
  aesKeyWrap,
  assertAesKeySize,
  digest,
  eccCmsSharedInfo,
  encodeKeyAgreementAlgorithmIdentifier,
  encodeRsaOaepAlgorithmIdentifier,
  encodeRsaPssAlgorithmIdentifier,
  readContentEncryptionAlgorithm,
  readHashAlgorithmIdentifier,
  readKeyAgreementAlgorithm,
  readRsaOaepAlgorithmIdentifier,
  readRsaPssAlgorithmIdentifier,
  x963Kdf,
} from './algorithms';

const hex = (value: string): Buffer => Buffer.from(value.replace(/\s+/g, ''), 'hex');
const parse = (der: Buffer) => decodeAsn1(der);

const SHA1_OID = '1.3.14.3.2.26';

function hashId(hashOid: string): Buffer {
  return sequence(oid(hashOid), nullValue());
}

function pss(fields: Buffer[]): Buffer {
  return sequence(oid(ALGORITHM_OIDS.RSA_PSS), sequence(...fields));
}

describe('hash algorithm identifiers', () => {
  test.each([
    ['SHA-256', ALGORITHM_OIDS.SHA256],
    ['SHA-384', ALGORITHM_OIDS.SHA384],
    ['SHA-512', ALGORITHM_OIDS.SHA512],
  ])('%s is allowed, with or without NULL parameters', (name, hashOid) => {
    expect(readHashAlgorithmIdentifier(parse(hashId(hashOid)), 'test')).toBe(name);
    expect(readHashAlgorithmIdentifier(parse(sequence(oid(hashOid))), 'test')).toBe(name);
  });

  test('SHA-1 is refused with a CryptoError naming it', () => {
    expect(() => readHashAlgorithmIdentifier(parse(hashId(SHA1_OID)), 'test')).toThrow(CryptoError);
    expect(() => readHashAlgorithmIdentifier(parse(hashId(SHA1_OID)), 'test')).toThrow(/SHA-1/);
  });

  test('MD5 is refused', () => {
    expect(() => readHashAlgorithmIdentifier(parse(hashId('1.2.840.113549.2.5')), 'test')).toThrow(/MD5/);
  });

  test('non-NULL hash parameters are a syntax error', () => {
    const der = sequence(oid(ALGORITHM_OIDS.SHA256), integer(1));
    expect(() => readHashAlgorithmIdentifier(parse(der), 'test')).toThrow(RelaynetSyntaxError);
  });

  test('digest() matches node:crypto', () => {
    const data = Buffer.from('abc');
    expect(digest('SHA-384', data)).toEqual(createHash('sha384').update(data).digest());
  });
});

describe('RSA-PSS algorithm identifiers', () => {
  test.each(['SHA-256', 'SHA-384', 'SHA-512'] as const)('%s round trip, salt = hash length', (hash) => {
    const parsed = readRsaPssAlgorithmIdentifier(parse(encodeRsaPssAlgorithmIdentifier(hash)), 'test');
    expect(parsed).toEqual({ hash, saltLength: { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 }[hash] });
  });

  test('the SHA-256 encoding is the one the reference implementation writes', () => {
    expect(encodeRsaPssAlgorithmIdentifier('SHA-256').toString('hex')).toBe(
      '304106092a864886f70d01010a3034a00f300d06096086480165030402010500' +
        'a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120',
    );
  });

  test('PKCS#1 v1.5 (sha256WithRSAEncryption) is refused', () => {
    const der = sequence(oid(ALGORITHM_OIDS.SHA256_WITH_RSA), nullValue());
    expect(() => readRsaPssAlgorithmIdentifier(parse(der), 'test')).toThrow(CryptoError);
    expect(() => readRsaPssAlgorithmIdentifier(parse(der), 'test')).toThrow(/PKCS#1 v1\.5/);
  });

  test('absent parameters (SHA-1 defaults) are refused', () => {
    expect(() => readRsaPssAlgorithmIdentifier(parse(sequence(oid(ALGORITHM_OIDS.RSA_PSS))), 'test')).toThrow(/SHA-1/);
    expect(() => readRsaPssAlgorithmIdentifier(parse(pss([])), 'test')).toThrow(/SHA-1/);
  });

  test('an explicit SHA-1 hash is refused', () => {
    const der = pss([explicit(0, hashId(SHA1_OID)), explicit(1, sequence(oid(ALGORITHM_OIDS.MGF1), hashId(SHA1_OID)))]);
    expect(() => readRsaPssAlgorithmIdentifier(parse(der), 'test')).toThrow(CryptoError);
  });

  test('MGF1 with a different hash is refused', () => {
    const der = pss([
      explicit(0, hashId(ALGORITHM_OIDS.SHA256)),
      explicit(1, sequence(oid(ALGORITHM_OIDS.MGF1), hashId(ALGORITHM_OIDS.SHA512))),
    ]);
    expect(() => readRsaPssAlgorithmIdentifier(parse(der), 'test')).toThrow(/MGF1/);
  });

  test('missing salt length defaults to 20', () => {
    const der = pss([
      explicit(0, hashId(ALGORITHM_OIDS.SHA256)),
      explicit(1, sequence(oid(ALGORITHM_OIDS.MGF1), hashId(ALGORITHM_OIDS.SHA256))),
    ]);
    expect(readRsaPssAlgorithmIdentifier(parse(der), 'test').saltLength).toBe(20);
  });

  test('a trailer field other than 1 is refused', () => {
    const der = pss([
      explicit(0, hashId(ALGORITHM_OIDS.SHA256)),
      explicit(1, sequence(oid(ALGORITHM_OIDS.MGF1), hashId(ALGORITHM_OIDS.SHA256))),
      explicit(2, integer(32)),
      explicit(3, integer(2)),
    ]);
    expect(() => readRsaPssAlgorithmIdentifier(parse(der), 'test')).toThrow(/trailer/);
  });
});

describe('RSA-OAEP algorithm identifiers', () => {
  test('SHA-256 encoding matches the reference implementation and reads back', () => {
    const der = encodeRsaOaepAlgorithmIdentifier();
    expect(der.toString('hex')).toBe(
      '303c06092a864886f70d010107302fa00f300d06096086480165030402010500' +
        'a11c301a06092a864886f70d010108300d06096086480165030402010500',
    );
    expect(readRsaOaepAlgorithmIdentifier(parse(der), 'test')).toBe('SHA-256');
  });

  test('rsaEncryption (PKCS#1 v1.5 key transport) is refused', () => {
    const der = sequence(oid(ALGORITHM_OIDS.RSA_ENCRYPTION), nullValue());
    expect(() => readRsaOaepAlgorithmIdentifier(parse(der), 'test')).toThrow(CryptoError);
  });

  test('default (SHA-1) OAEP parameters are refused', () => {
    const der = sequence(oid(ALGORITHM_OIDS.RSA_OAEP), sequence());
    expect(() => readRsaOaepAlgorithmIdentifier(parse(der), 'test')).toThrow(/SHA-1/);
  });

  test('a non-empty label is refused', () => {
    const der = sequence(
      oid(ALGORITHM_OIDS.RSA_OAEP),
      sequence(
        explicit(0, hashId(ALGORITHM_OIDS.SHA256)),
        explicit(1, sequence(oid(ALGORITHM_OIDS.MGF1), hashId(ALGORITHM_OIDS.SHA256))),
        explicit(2, sequence(oid('1.2.840.113549.1.1.9'), octetString(Buffer.from('label')))),
      ),
    );
    expect(() => readRsaOaepAlgorithmIdentifier(parse(der), 'test')).toThrow(/label/);
  });
});

describe('AES-CBC', () => {
  // NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt), first block, followed by our PKCS#7 padding block.
  const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
  const iv = hex('000102030405060708090a0b0c0d0e0f');
  const block = hex('6bc1bee22e409f96e93d7e117393172a');

  test('matches the NIST vector and pads with a full block', () => {
    const ciphertext = Buffer.concat(aesCbcEncrypt(key, iv, block));
    expect(ciphertext.length).toBe(32);
    expect(ciphertext.subarray(0, 16)).toEqual(hex('7649abac8119b246cee98e9b12e9197d'));
    expect(aesCbcDecrypt(key, iv, ciphertext)).toEqual(block);
  });

  test.each([0, 1, 15, 16, 17, 1000])('round trip of %i octets', (length) => {
    const plaintext = Buffer.alloc(length, 7);
    const ciphertext = Buffer.concat(aesCbcEncrypt(key, iv, plaintext));
    expect(ciphertext.length).toBe((Math.floor(length / 16) + 1) * 16);
    expect(aesCbcDecrypt(key, iv, ciphertext)).toEqual(plaintext);
  });

  test('bad padding is a CryptoError', () => {
    const ciphertext = Buffer.concat(aesCbcEncrypt(key, iv, block));
    // The padding block decrypts to 16 × 0x10; flipping bits of the previous ciphertext block flips
    // the same bits of that plaintext, so the last octet becomes 0x31: an invalid padding length.
    const lastIv = ciphertext.subarray(0, 16);
    const lastBlockPlain = aesCbcDecryptRaw(key, lastIv, ciphertext.subarray(16));
    expect(lastBlockPlain).toEqual(Buffer.alloc(16, 16));
    const tampered = Buffer.from(ciphertext);
    tampered[15] ^= 0x01 ^ 0x20; // last plaintext octet becomes 16 ^ 0x21 = 0x31 (> 16)
    expect(() => aesCbcDecrypt(key, iv, tampered)).toThrow(CryptoError);
    expect(() => aesCbcDecrypt(key, iv, tampered)).toThrow(/padding/);
  });

  test('ciphertext that is not whole blocks is a CryptoError', () => {
    expect(() => aesCbcDecrypt(key, iv, Buffer.alloc(17))).toThrow(/block size/);
    expect(() => aesCbcDecrypt(key, iv, Buffer.alloc(0))).toThrow(CryptoError);
  });

  test('content encryption algorithm: AES-CBC sizes allowed, GCM refused, bad IV refused', () => {
    const ivOctets = octetString(Buffer.alloc(16));
    expect(readContentEncryptionAlgorithm(parse(sequence(oid(ALGORITHM_OIDS.AES256_CBC), ivOctets)), 't').keySize).toBe(
      256,
    );
    expect(() => readContentEncryptionAlgorithm(parse(sequence(oid('2.16.840.1.101.3.4.1.6'), ivOctets)), 't')).toThrow(
      /AES-128-GCM.*not allowed/,
    );
    expect(() =>
      readContentEncryptionAlgorithm(
        parse(sequence(oid(ALGORITHM_OIDS.AES128_CBC), octetString(Buffer.alloc(8)))),
        't',
      ),
    ).toThrow(RelaynetSyntaxError);
  });

  test('key sizes other than 128/192/256 are refused', () => {
    expect(assertAesKeySize(192)).toBe(192);
    expect(() => assertAesKeySize(512)).toThrow(CryptoError);
  });
});

function aesCbcDecryptRaw(key: Buffer, iv: Buffer, block: Buffer): Buffer {
  const decipher = createDecipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
  return Buffer.concat([decipher.update(block), decipher.final()]);
}

describe('AES key wrap (RFC 3394)', () => {
  const kek = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F');

  test('§4.3: 128-bit key with a 256-bit KEK', () => {
    const wrapped = aesKeyWrap(kek, hex('00112233445566778899AABBCCDDEEFF'));
    expect(wrapped).toEqual(hex('64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7'));
    expect(aesKeyUnwrap(kek, wrapped)).toEqual(hex('00112233445566778899AABBCCDDEEFF'));
  });

  test('§4.6: 256-bit key with a 256-bit KEK', () => {
    const key = hex('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F');
    expect(aesKeyWrap(kek, key)).toEqual(
      hex('28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21'),
    );
  });

  test('unwrapping with the wrong KEK is a CryptoError', () => {
    const wrapped = aesKeyWrap(kek, Buffer.alloc(16, 9));
    expect(() => aesKeyUnwrap(Buffer.alloc(32, 1), wrapped)).toThrow(CryptoError);
  });

  test('a wrapped key of invalid length is a CryptoError', () => {
    expect(() => aesKeyUnwrap(kek, Buffer.alloc(20))).toThrow(/length/);
  });
});

describe('X9.63 KDF and ECC-CMS-SharedInfo', () => {
  test('SharedInfo for AES-256-KW without UKM is the RFC 5753 DER', () => {
    const info = eccCmsSharedInfo(ALGORITHM_OIDS.AES256_KW, 256, null, false);
    expect(info.toString('hex')).toBe('3015300b060960864801650304012da20604040000' + '0100');
  });

  test('SharedInfo carries the UKM under [0] and optional NULL parameters', () => {
    const info = eccCmsSharedInfo(ALGORITHM_OIDS.AES128_KW, 128, Buffer.from('ab'), true);
    expect(info.toString('hex')).toBe(
      '301d' + '300d0609608648016503040105' + '0500' + 'a00404026162' + 'a2060404' + '00000080',
    );
  });

  test('one round is Hash(Z || 00000001 || SharedInfo), truncated', () => {
    const z = Buffer.alloc(32, 0x11);
    const info = Buffer.from('shared');
    const expected = createHash('sha512')
      .update(Buffer.concat([z, hex('00000001'), info]))
      .digest()
      .subarray(0, 32);
    expect(x963Kdf('SHA-512', z, 32, info)).toEqual(expected);
  });

  test('longer outputs concatenate rounds with an incrementing counter', () => {
    const z = Buffer.alloc(32, 0x22);
    const info = Buffer.alloc(0);
    const out = x963Kdf('SHA-256', z, 80, info);
    expect(out.length).toBe(80);
    const round3 = createHash('sha256')
      .update(Buffer.concat([z, hex('00000003')]))
      .digest();
    expect(out.subarray(64)).toEqual(round3.subarray(0, 16));
    expect(out.subarray(0, 32)).toEqual(x963Kdf('SHA-256', z, 32, info));
  });

  test('key agreement algorithm: what we write reads back as SHA-512 KDF + AES-256-KW', () => {
    const parsed = readKeyAgreementAlgorithm(parse(encodeKeyAgreementAlgorithmIdentifier()), 'test');
    expect(parsed).toMatchObject({ kdfHash: 'SHA-512', keyWrapSize: 256, keyWrapHasNullParameters: false });
    expect(encodeKeyAgreementAlgorithmIdentifier().toString('hex')).toBe(
      '3015' + '06062b8104010b03' + '300b060960864801650304012d',
    );
  });

  test('key agreement: unknown schemes and non-AES-KW wraps are refused', () => {
    const cofactor = sequence(oid('1.3.132.1.14.3'), sequence(oid(ALGORITHM_OIDS.AES256_KW)));
    expect(() => readKeyAgreementAlgorithm(parse(cofactor), 'test')).toThrow(CryptoError);
    const wrongWrap = sequence(
      oid(ALGORITHM_OIDS.DH_SINGLE_PASS_STD_DH_SHA512_KDF),
      sequence(oid(ALGORITHM_OIDS.AES256_CBC)),
    );
    expect(() => readKeyAgreementAlgorithm(parse(wrongWrap), 'test')).toThrow(/AES-KW/);
  });
});

test('AES-CBC encrypts chunked plaintext exactly as the joined plaintext', () => {
  const key = Buffer.alloc(32, 1);
  const iv = Buffer.alloc(16, 2);
  const plaintext = Buffer.alloc(70_001, 3);
  const chunks = [plaintext.subarray(0, 12_345), plaintext.subarray(12_345)];
  expect(Buffer.concat(aesCbcEncrypt(key, iv, chunks)).equals(Buffer.concat(aesCbcEncrypt(key, iv, plaintext)))).toBe(
    true,
  );
});

test('AES-CBC written into a buffer, in slices, matches the one-shot ciphertext and decrypts back', () => {
  const key = Buffer.alloc(16, 4);
  const iv = Buffer.alloc(16, 5);
  // Several 64 KiB slices, with chunk boundaries that are not block-aligned.
  const plaintext = Buffer.alloc(300_007);
  for (let i = 0; i < plaintext.length; i++) plaintext[i] = (i * 7) & 0xff;
  const chunks = [plaintext.subarray(0, 5), plaintext.subarray(5, 100_003), plaintext.subarray(100_003)];
  const expected = Buffer.concat(aesCbcEncrypt(key, iv, plaintext));
  expect(aesCbcCiphertextLength(plaintext.length)).toBe(expected.length);

  const target = Buffer.alloc(expected.length + 10, 0xee);
  aesCbcEncryptInto(key, iv, chunks, target, 3);

  expect(target.subarray(3, 3 + expected.length).equals(expected)).toBe(true);
  expect(target.subarray(0, 3).equals(Buffer.alloc(3, 0xee))).toBe(true);
  expect(target.subarray(3 + expected.length).equals(Buffer.alloc(7, 0xee))).toBe(true);
  expect(aesCbcDecrypt(key, iv, expected).equals(plaintext)).toBe(true);
});

test('AES-CBC ciphertext lengths include one to sixteen octets of padding', () => {
  expect(aesCbcCiphertextLength(0)).toBe(16);
  expect(aesCbcCiphertextLength(15)).toBe(16);
  expect(aesCbcCiphertextLength(16)).toBe(32);
});
