import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';

import { decodeAsn1, UniversalTag } from '../asn1/decode';
import { integer, nullValue, oid, sequence, explicit } from '../asn1/encode';
import { Asn1SyntaxError, CertificateError, CryptoError } from '../errors';
import { ALGORITHM_OIDS } from '../oids';
import {
  authorityKeyIdExtension,
  basicConstraintsExtension,
  craftCertificate,
  encodeCommonNameName,
  getPkiFixture,
  getRsaKeyPairs,
  getWeakRsaKeyPair,
  PkiFixture,
  pssAlgorithmIdentifier,
  subjectKeyIdExtension,
} from '../testUtils/pki';
import { Certificate } from './Certificate';
import { issueDeliveryAuthorization, issueEndpointCertificate } from './issuance';
import { derSerializePublicKey, getIdFromIdentityKey, getPublicKeyDigest, KeyPair } from './keys';

let keys: readonly KeyPair[];
let fixture: PkiFixture;

beforeAll(async () => {
  [keys, fixture] = await Promise.all([getRsaKeyPairs(), getPkiFixture()]);
});

const HOUR = 3_600_000;

function secondsOnly(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function spkiDigest(pair: KeyPair): Buffer {
  return getPublicKeyDigest(derSerializePublicKey(pair.publicKey));
}

async function catchError(promiseOrFn: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    if (typeof promiseOrFn === 'function') promiseOrFn();
    else await promiseOrFn;
  } catch (err) {
    return err as Error;
  }
  throw new Error('Expected an error');
}

/** A copy of `der` with one bit flipped at `offset` (negative: from the end). */
function flipBit(der: Buffer, offset: number): Buffer {
  const copy = Buffer.from(der);
  copy[offset < 0 ? copy.length + offset : offset] ^= 0x01;
  return copy;
}

describe('deserialize', () => {
  test('certificates that differ only away from their end are told apart', () => {
    // Parsed certificates are cached under their last octets: a different certificate
    // with the same key must still be parsed for itself.
    const der = fixture.privateEndpoint.certificate.serialize();
    const other = flipBit(der, -200);
    expect(Certificate.deserialize(der).serialize()).toEqual(der);
    expect(Certificate.deserialize(other).serialize()).toEqual(other);
    expect(Certificate.deserialize(der).serialize()).toEqual(der);
  });

  test('reads a plain Uint8Array as it reads a Buffer', () => {
    const der = fixture.privateEndpoint.certificate.serialize();
    const bytes = new Uint8Array(der);
    expect(Certificate.deserialize(bytes as Buffer).serialize()).toEqual(der);
  });

  test('reads every field of a hand-made certificate', () => {
    const [subject, issuer] = keys;
    const notBefore = new Date('2026-01-02T03:04:05Z');
    const notAfter = new Date('2027-06-07T08:09:10Z');
    const issuerName = encodeCommonNameName('the issuer');
    const der = craftCertificate({
      subjectPublicKey: subject.publicKey,
      issuerPrivateKey: issuer.privateKey,
      commonName: 'the subject',
      issuerName,
      serialNumber: 0x0102030405n,
      notBefore,
      notAfter,
      extensions: [
        basicConstraintsExtension(true, 1),
        authorityKeyIdExtension(Buffer.from('aki')),
        subjectKeyIdExtension(Buffer.from('ski')),
      ],
    });
    const cert = Certificate.deserialize(der);

    expect(cert.serialize()).toEqual(der);
    expect(cert.commonName).toBe('the subject');
    expect(cert.serialNumber).toEqual(Buffer.from('0102030405', 'hex'));
    expect(cert.issuerName).toEqual(issuerName);
    expect(cert.subjectName).toEqual(encodeCommonNameName('the subject'));
    expect(cert.startDate).toEqual(notBefore);
    expect(cert.expiryDate).toEqual(notAfter);
    expect(cert.subjectPublicKeyInfo).toEqual(derSerializePublicKey(subject.publicKey));
    expect(cert.publicKey.equals(subject.publicKey)).toBe(true);
    expect(cert.publicKey).toBe(cert.publicKey);
    expect(cert.isCA).toBe(true);
    expect(cert.pathLenConstraint).toBe(1);
    expect(cert.authorityKeyIdentifier).toEqual(Buffer.from('aki'));
    expect(cert.subjectKeyIdentifier).toEqual(Buffer.from('ski'));
    expect(cert.getIssuerId()).toBe('0' + Buffer.from('aki').toString('hex'));
    expect(cert.calculateSubjectId()).toBe(getIdFromIdentityKey(subject.publicKey));
  });

  test('agrees with node:crypto X509Certificate', () => {
    const cert = fixture.privateEndpoint.certificate;
    const x509 = new X509Certificate(cert.serialize());
    expect(cert.serialNumber.toString('hex').toUpperCase()).toBe(x509.serialNumber);
    expect(cert.startDate).toEqual(new Date(x509.validFrom));
    expect(cert.expiryDate).toEqual(new Date(x509.validTo));
    expect(x509.subject).toBe(`CN=${cert.commonName}`);
    expect(x509.ca).toBe(true);
    expect(x509.publicKey.equals(cert.publicKey)).toBe(true);
  });

  test('keeps its own copy of the input', () => {
    const der = Buffer.from(fixture.internetGateway.certificate.serialize());
    const cert = Certificate.deserialize(der);
    const commonName = cert.commonName;
    der.fill(0);
    expect(cert.commonName).toBe(commonName);
    expect(cert.isEqual(fixture.internetGateway.certificate)).toBe(true);
  });

  test('reads the common name repeatedly without corrupting the DER (BMPString)', () => {
    const cert = Certificate.deserialize(fixture.internetGateway.certificate.serialize());
    const before = Buffer.from(cert.serialize());
    expect(cert.commonName).toBe(getIdFromIdentityKey(fixture.internetGateway.keyPair.publicKey));
    expect(Certificate.deserialize(cert.serialize()).commonName).toBe(cert.commonName);
    expect(cert.serialize()).toEqual(before);
  });

  test.each([
    ['UTF8String', UniversalTag.UTF8_STRING, 'héllo'],
    ['PrintableString', UniversalTag.PRINTABLE_STRING, 'hello'],
    ['BMPString', UniversalTag.BMP_STRING, 'héllo ✓'],
  ])('reads a %s common name', (_name, tag, value) => {
    const der = craftCertificate({
      subjectPublicKey: keys[0].publicKey,
      issuerPrivateKey: keys[0].privateKey,
      subjectName: encodeCommonNameName(value, tag),
    });
    expect(Certificate.deserialize(der).commonName).toBe(value);
  });

  test('a name without a common name is reported when the common name is read', () => {
    const name = sequence();
    const cert = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: keys[0].privateKey,
        subjectName: name,
      }),
    );
    expect(() => cert.commonName).toThrow(new CertificateError('Distinguished Name does not contain a Common Name'));
  });

  test('without extensions: not a CA, no path length, no key identifiers', () => {
    const cert = Certificate.deserialize(
      craftCertificate({ subjectPublicKey: keys[0].publicKey, issuerPrivateKey: keys[0].privateKey, extensions: null }),
    );
    expect(cert.isCA).toBe(false);
    expect(cert.pathLenConstraint).toBeNull();
    expect(cert.subjectKeyIdentifier).toBeNull();
    expect(cert.authorityKeyIdentifier).toBeNull();
    expect(cert.getIssuerId()).toBeNull();
  });

  test('basicConstraints without pathLenConstraint', () => {
    const cert = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: keys[0].privateKey,
        extensions: [basicConstraintsExtension(true)],
      }),
    );
    expect(cert.isCA).toBe(true);
    expect(cert.pathLenConstraint).toBeNull();
  });

  describe('malformed input', () => {
    test('garbage is refused with the decoder error as cause', async () => {
      const error = await catchError(() => Certificate.deserialize(Buffer.from('garbage')));
      expect(error).toBeInstanceOf(CertificateError);
      expect(error.message).toBe('Certificate is malformed');
      expect(error.cause).toBeInstanceOf(Asn1SyntaxError);
    });

    test('a truncated certificate is refused', async () => {
      const der = fixture.internetGateway.certificate.serialize();
      const error = await catchError(() => Certificate.deserialize(der.subarray(0, der.length - 1)));
      expect(error).toBeInstanceOf(CertificateError);
      expect(error.cause).toBeInstanceOf(Asn1SyntaxError);
      expect((error.cause as Error).message).toMatch(/Truncated/);
    });

    test('trailing data is refused', () => {
      const der = Buffer.concat([fixture.internetGateway.certificate.serialize(), Buffer.from([0])]);
      expect(() => Certificate.deserialize(der)).toThrow(CertificateError);
    });

    test('an empty buffer and non-buffers are refused', () => {
      expect(() => Certificate.deserialize(Buffer.alloc(0))).toThrow(CertificateError);
      expect(() => Certificate.deserialize('MIIB' as unknown as Buffer)).toThrow('Certificate must be DER bytes');
    });

    test('a SEQUENCE that is not a certificate is refused', () => {
      expect(() => Certificate.deserialize(sequence(integer(1)))).toThrow(CertificateError);
      expect(() => Certificate.deserialize(sequence(integer(1), integer(2), integer(3)))).toThrow(CertificateError);
    });

    test.each([
      [null, 'v1'],
      [0, 'v1'],
      [1, 'v2'],
      [3, 'v4'],
    ])('version %p is refused', (version, label) => {
      const der = craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: keys[0].privateKey,
        version,
      });
      expect(() => Certificate.deserialize(der)).toThrow(
        new CertificateError(`Only X.509 v3 certificates are supported (got ${label})`),
      );
    });

    test('inner and outer signature algorithms must agree', () => {
      const der = craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: keys[0].privateKey,
        outerSignatureAlgorithm: pssAlgorithmIdentifier(ALGORITHM_OIDS.SHA384, 48),
      });
      expect(() => Certificate.deserialize(der)).toThrow(
        'TBSCertificate signature algorithm differs from the outer one',
      );
    });

    test('a malformed basicConstraints value is refused', () => {
      const bad = sequence(oid('2.5.29.19'), Buffer.from([0x04, 0x02, 0x30, 0x05]));
      const der = craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: keys[0].privateKey,
        extensions: [bad],
      });
      const error = (() => {
        try {
          Certificate.deserialize(der);
        } catch (err) {
          return err as Error;
        }
        return null;
      })();
      expect(error).toBeInstanceOf(CertificateError);
      expect(error?.cause).toBeInstanceOf(Asn1SyntaxError);
    });

    test('a duplicated extension is refused', () => {
      const der = craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: keys[0].privateKey,
        extensions: [basicConstraintsExtension(true, 0), basicConstraintsExtension(false)],
      });
      expect(() => Certificate.deserialize(der)).toThrow('Duplicated extension 2.5.29.19');
    });

    test('a negative pathLenConstraint is refused', () => {
      const der = craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: keys[0].privateKey,
        extensions: [basicConstraintsExtension(true, -1)],
      });
      expect(() => Certificate.deserialize(der)).toThrow('pathLenConstraint is negative');
    });
  });

  describe('publicKey', () => {
    test('refuses an RSA key under 2048 bits', () => {
      const weak = getWeakRsaKeyPair();
      const cert = Certificate.deserialize(
        craftCertificate({ subjectPublicKey: weak.publicKey, issuerPrivateKey: keys[0].privateKey }),
      );
      expect(() => cert.publicKey).toThrow(
        new CertificateError('Certificate subject public key must have a modulus of at least 2048 bits (got 1024)'),
      );
    });

    test('refuses a non-RSA key', () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const cert = Certificate.deserialize(
        craftCertificate({ subjectPublicKey: ec.publicKey, issuerPrivateKey: keys[0].privateKey }),
      );
      expect(() => cert.publicKey).toThrow('Certificate subject public key must be an RSA key (got ec)');
    });
  });
});

describe('issue', () => {
  test('a self-issued certificate', async () => {
    const [pair] = keys;
    const start = new Date(Date.now() - HOUR + 123);
    const end = new Date(Date.now() + HOUR + 456);
    const cert = await Certificate.issue({
      commonName: 'the name',
      subjectPublicKey: pair.publicKey,
      issuerPrivateKey: pair.privateKey,
      validityStartDate: start,
      validityEndDate: end,
      isCA: true,
      pathLenConstraint: 2,
    });

    expect(cert.commonName).toBe('the name');
    expect(cert.issuerName).toEqual(cert.subjectName);
    expect(cert.subjectName).toEqual(encodeCommonNameName('the name'));
    expect(cert.startDate).toEqual(secondsOnly(start));
    expect(cert.expiryDate).toEqual(secondsOnly(end));
    expect(cert.isCA).toBe(true);
    expect(cert.pathLenConstraint).toBe(2);
    expect(cert.subjectKeyIdentifier).toEqual(spkiDigest(pair));
    expect(cert.authorityKeyIdentifier).toEqual(spkiDigest(pair));
    expect(cert.subjectPublicKeyInfo).toEqual(derSerializePublicKey(pair.publicKey));
    // An independent check of the signature: OpenSSL through node:crypto.
    const x509 = new X509Certificate(cert.serialize());
    expect(x509.verify(pair.publicKey)).toBe(true);
    expect(x509.checkIssued(x509)).toBe(true);
  });

  test('the signature algorithm is RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-octet salt', async () => {
    const cert = fixture.internetGateway.certificate;
    const [, algorithm] = decodeAsn1(cert.serialize()).children;
    const hash = sequence(oid(ALGORITHM_OIDS.SHA256), nullValue());
    const expected = sequence(
      oid(ALGORITHM_OIDS.RSA_PSS),
      sequence(explicit(0, hash), explicit(1, sequence(oid(ALGORITHM_OIDS.MGF1), hash)), explicit(2, integer(32))),
    );
    expect(algorithm.encoded).toEqual(expected);
    expect(algorithm.encoded.toString('hex')).toBe(
      '304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d0609608648' +
        '0165030402010500a203020120',
    );
  });

  test('extensions: critical basicConstraints, then AKI, then SKI', async () => {
    const cert = fixture.publicEndpoint.pda;
    const tbs = decodeAsn1(cert.serialize()).children[0];
    const extensions = tbs.children[7].children[0].children.map((e) => e.encoded.toString('hex'));
    expect(extensions).toEqual([
      '300f0603551d130101ff04053003020100',
      '302b0603551d23042430228020' + spkiDigest(fixture.privateEndpoint.keyPair).toString('hex'),
      '30290603551d0e04220420' + spkiDigest(fixture.publicEndpoint.keyPair).toString('hex'),
    ]);
  });

  test('defaults: starts now, not a CA, pathLenConstraint 0', async () => {
    const before = secondsOnly(new Date());
    const cert = await Certificate.issue({
      commonName: 'x',
      subjectPublicKey: keys[0].publicKey,
      issuerPrivateKey: keys[0].privateKey,
      validityEndDate: new Date(Date.now() + HOUR),
    });
    expect(cert.startDate.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(cert.startDate.getTime()).toBeLessThanOrEqual(Date.now());
    expect(cert.isCA).toBe(false);
    expect(cert.pathLenConstraint).toBe(0);
  });

  test('issued by another certificate: its name, its key id, capped at its expiry', async () => {
    const issuer = fixture.privateGateway;
    const cert = await Certificate.issue({
      commonName: 'child',
      subjectPublicKey: keys[4].publicKey,
      issuerPrivateKey: issuer.keyPair.privateKey,
      issuerCertificate: issuer.certificate,
      validityEndDate: new Date(issuer.certificate.expiryDate.getTime() + 86_400_000),
    });
    expect(cert.issuerName).toEqual(issuer.certificate.subjectName);
    expect(cert.authorityKeyIdentifier).toEqual(issuer.certificate.subjectKeyIdentifier);
    expect(cert.subjectKeyIdentifier).toEqual(spkiDigest(keys[4]));
    expect(cert.expiryDate).toEqual(issuer.certificate.expiryDate);
    await expect(cert.isIssuedBy(issuer.certificate)).resolves.toBe(true);
    expect(new X509Certificate(cert.serialize()).checkIssued(new X509Certificate(issuer.certificate.serialize()))).toBe(
      true,
    );
  });

  test('serial numbers: 8 octets, positive, minimal and distinct', async () => {
    const certs = await Promise.all(
      Array.from({ length: 8 }, () =>
        Certificate.issue({
          commonName: 'x',
          subjectPublicKey: keys[0].publicKey,
          issuerPrivateKey: keys[0].privateKey,
          validityEndDate: new Date(Date.now() + HOUR),
        }),
      ),
    );
    const serials = certs.map((c) => c.serialNumber);
    for (const serial of serials) {
      expect(serial).toHaveLength(8);
      expect(serial[0]).toBeGreaterThan(0);
      expect(serial[0]).toBeLessThan(0x80);
    }
    expect(new Set(serials.map((s) => s.toString('hex'))).size).toBe(serials.length);
  });

  test.each(['SHA-384', 'SHA-512'] as const)('%s signatures', async (hashAlgorithm) => {
    const cert = await Certificate.issue({
      commonName: 'x',
      subjectPublicKey: keys[0].publicKey,
      issuerPrivateKey: keys[0].privateKey,
      validityEndDate: new Date(Date.now() + HOUR),
      hashAlgorithm,
    });
    const [, algorithm] = decodeAsn1(cert.serialize()).children;
    const [hashOid, saltLength] =
      hashAlgorithm === 'SHA-384' ? [ALGORITHM_OIDS.SHA384, 48] : [ALGORITHM_OIDS.SHA512, 64];
    expect(algorithm.encoded).toEqual(pssAlgorithmIdentifier(hashOid, saltLength));
    await expect(cert.isIssuedBy(cert)).resolves.toBe(true);
    expect(new X509Certificate(cert.serialize()).verify(keys[0].publicKey)).toBe(true);
  });

  test('dates from 2050 are written as GeneralizedTime', async () => {
    const end = new Date('2051-02-03T04:05:06Z');
    const cert = await Certificate.issue({
      commonName: 'x',
      subjectPublicKey: keys[0].publicKey,
      issuerPrivateKey: keys[0].privateKey,
      validityEndDate: end,
    });
    expect(cert.expiryDate).toEqual(end);
    const validity = decodeAsn1(cert.serialize()).children[0].children[4];
    expect(validity.children[0].tagNumber).toBe(UniversalTag.UTC_TIME);
    expect(validity.children[1].tagNumber).toBe(UniversalTag.GENERALIZED_TIME);
    expect(new Date(new X509Certificate(cert.serialize()).validTo)).toEqual(end);
  });

  describe('refusals', () => {
    const base = () => ({
      commonName: 'x',
      subjectPublicKey: keys[0].publicKey,
      issuerPrivateKey: keys[0].privateKey,
      validityEndDate: new Date(Date.now() + HOUR),
    });

    test('an end date before the start date', async () => {
      await expect(
        Certificate.issue({ ...base(), validityStartDate: new Date(Date.now() + 2 * HOUR) }),
      ).rejects.toThrow(new CertificateError('The end date must be later than the start date'));
    });

    test('an end date capped below the start date by the issuer expiry', async () => {
      const issuer = fixture.internetGateway;
      await expect(
        Certificate.issue({
          ...base(),
          issuerPrivateKey: issuer.keyPair.privateKey,
          issuerCertificate: issuer.certificate,
          validityStartDate: new Date(issuer.certificate.expiryDate.getTime() + HOUR),
          validityEndDate: new Date(issuer.certificate.expiryDate.getTime() + 2 * HOUR),
        }),
      ).rejects.toThrow('The end date must be later than the start date');
    });

    test('an issuer certificate that is not a CA', async () => {
      await expect(
        Certificate.issue({
          ...base(),
          issuerPrivateKey: fixture.publicEndpoint.keyPair.privateKey,
          issuerCertificate: fixture.publicEndpoint.pda,
        }),
      ).rejects.toThrow(new CertificateError('Issuer certificate is not a CA'));
    });

    test.each([-1, 3, 1.5])('pathLenConstraint %p', async (pathLenConstraint) => {
      await expect(Certificate.issue({ ...base(), isCA: true, pathLenConstraint })).rejects.toThrow(
        new CertificateError(`pathLenConstraint must be between 0 and 2 (got ${pathLenConstraint})`),
      );
    });

    test('keys under 2048 bits', async () => {
      const weak = getWeakRsaKeyPair();
      await expect(Certificate.issue({ ...base(), subjectPublicKey: weak.publicKey })).rejects.toThrow(
        new CertificateError('Subject key must have a modulus of at least 2048 bits (got 1024)'),
      );
      await expect(Certificate.issue({ ...base(), issuerPrivateKey: weak.privateKey })).rejects.toThrow(
        new CertificateError('Issuer key must have a modulus of at least 2048 bits (got 1024)'),
      );
    });

    test('non-RSA keys and a public key as issuer key', async () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      await expect(Certificate.issue({ ...base(), subjectPublicKey: ec.publicKey })).rejects.toThrow(CertificateError);
      await expect(Certificate.issue({ ...base(), issuerPrivateKey: ec.privateKey })).rejects.toThrow(
        'Issuer key must be an RSA key (got ec)',
      );
      await expect(Certificate.issue({ ...base(), issuerPrivateKey: keys[0].publicKey })).rejects.toThrow(
        'Issuer key must be a private key (got a public key)',
      );
    });

    test('an empty common name and invalid dates', async () => {
      await expect(Certificate.issue({ ...base(), commonName: '' })).rejects.toThrow(CertificateError);
      await expect(Certificate.issue({ ...base(), validityEndDate: new Date(NaN) })).rejects.toThrow(
        'validityEndDate must be a valid Date',
      );
      await expect(Certificate.issue({ ...base(), hashAlgorithm: 'SHA-1' as never })).rejects.toThrow(
        'Unsupported hash algorithm "SHA-1"',
      );
    });
  });
});

describe('validate', () => {
  test('accepts dates within the window, bounds included', () => {
    const cert = fixture.privateGateway.certificate;
    expect(() => cert.validate()).not.toThrow();
    expect(() => cert.validate(cert.startDate)).not.toThrow();
    expect(() => cert.validate(cert.expiryDate)).not.toThrow();
  });

  test('refuses a certificate not yet valid, with the dates in the message', () => {
    const cert = fixture.privateGateway.certificate;
    const at = new Date(cert.startDate.getTime() - 1);
    expect(() => cert.validate(at)).toThrow(
      new CertificateError(
        `Certificate is not yet valid: valid from ${cert.startDate.toISOString()}, checked at ${at.toISOString()}`,
      ),
    );
  });

  test('refuses an expired certificate, with the dates in the message', () => {
    const cert = fixture.privateGateway.certificate;
    const at = new Date(cert.expiryDate.getTime() + 1000);
    expect(() => cert.validate(at)).toThrow(
      new CertificateError(
        `Certificate already expired: valid until ${cert.expiryDate.toISOString()}, checked at ${at.toISOString()}`,
      ),
    );
  });

  test('defaults to now', async () => {
    const cert = await Certificate.issue({
      commonName: 'x',
      subjectPublicKey: keys[0].publicKey,
      issuerPrivateKey: keys[0].privateKey,
      validityStartDate: new Date(Date.now() - 2 * HOUR),
      validityEndDate: new Date(Date.now() - HOUR),
    });
    expect(() => cert.validate()).toThrow('Certificate already expired');
  });
});

describe('isEqual', () => {
  test('compares the DER', () => {
    const cert = fixture.privateGateway.certificate;
    expect(cert.isEqual(Certificate.deserialize(cert.serialize()))).toBe(true);
    expect(cert.isEqual(cert)).toBe(true);
    expect(cert.isEqual(fixture.internetGateway.certificate)).toBe(false);
  });
});

describe('isIssuedBy and verifySignature', () => {
  test('true along the chain, including self-issued roots', async () => {
    const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
    await expect(publicEndpoint.pda.isIssuedBy(privateEndpoint.certificate)).resolves.toBe(true);
    await expect(privateEndpoint.certificate.isIssuedBy(privateGateway.certificate)).resolves.toBe(true);
    await expect(privateGateway.certificate.isIssuedBy(internetGateway.certificate)).resolves.toBe(true);
    await expect(internetGateway.certificate.isIssuedBy(internetGateway.certificate)).resolves.toBe(true);
  });

  test('false for another issuer', async () => {
    const { privateGateway, publicEndpoint } = fixture;
    await expect(publicEndpoint.pda.isIssuedBy(privateGateway.certificate)).resolves.toBe(false);
    await expect(publicEndpoint.pda.isIssuedBy(publicEndpoint.certificate)).resolves.toBe(false);
  });

  test('false when the key identifiers differ, even though name and signature match', async () => {
    const issuer = fixture.privateEndpoint;
    const der = craftCertificate({
      subjectPublicKey: keys[5].publicKey,
      issuerPrivateKey: issuer.keyPair.privateKey,
      issuerName: issuer.certificate.subjectName,
      extensions: [basicConstraintsExtension(false, 0), authorityKeyIdExtension(randomBytes(32))],
    });
    const cert = Certificate.deserialize(der);
    await expect(cert.verifySignature(issuer.keyPair.publicKey)).resolves.toBe(true);
    await expect(cert.isIssuedBy(issuer.certificate)).resolves.toBe(false);
  });

  test('without an AKI the name and signature decide', async () => {
    const issuer = fixture.privateEndpoint;
    const der = craftCertificate({
      subjectPublicKey: keys[5].publicKey,
      issuerPrivateKey: issuer.keyPair.privateKey,
      issuerName: issuer.certificate.subjectName,
      extensions: [basicConstraintsExtension(false, 0)],
    });
    await expect(Certificate.deserialize(der).isIssuedBy(issuer.certificate)).resolves.toBe(true);
  });

  test('false for a tampered signature or a tampered TBSCertificate', async () => {
    const { privateEndpoint, publicEndpoint } = fixture;
    const der = publicEndpoint.pda.serialize();
    const badSignature = Certificate.deserialize(flipBit(der, -5));
    await expect(badSignature.isIssuedBy(privateEndpoint.certificate)).resolves.toBe(false);
    // Offset 15: inside the serial number, which is within the signed TBSCertificate.
    const badTbs = Certificate.deserialize(flipBit(der, 15));
    expect(badTbs.serialNumber.equals(publicEndpoint.pda.serialNumber)).toBe(false);
    await expect(badTbs.isIssuedBy(privateEndpoint.certificate)).resolves.toBe(false);
  });

  test('a truncated signature does not verify', async () => {
    const issuer = fixture.internetGateway;
    const der = craftCertificate({ subjectPublicKey: keys[0].publicKey, issuerPrivateKey: issuer.keyPair.privateKey });
    const decoded = decodeAsn1(der);
    const [tbs, algorithm, signature] = decoded.children;
    const shortSignature = Buffer.concat([Buffer.from([0x03, 0x81, 0x81]), signature.content.subarray(0, 129)]);
    const cert = Certificate.deserialize(sequence(tbs.encoded, algorithm.encoded, shortSignature));
    await expect(cert.verifySignature(issuer.keyPair.publicKey)).resolves.toBe(false);
  });

  test('a PKCS#1 v1.5 signature is refused with a CryptoError', async () => {
    const issuer = fixture.internetGateway;
    const der = craftCertificate({
      subjectPublicKey: keys[5].publicKey,
      issuerPrivateKey: issuer.keyPair.privateKey,
      issuerName: issuer.certificate.subjectName,
      signatureScheme: 'pkcs1',
    });
    const cert = Certificate.deserialize(der);
    // The signature itself is fine as far as OpenSSL is concerned.
    expect(new X509Certificate(der).verify(issuer.keyPair.publicKey)).toBe(true);
    await expect(cert.isIssuedBy(issuer.certificate)).rejects.toThrow(
      new CryptoError(
        `Certificate signature algorithm: signature algorithm sha256WithRSAEncryption (PKCS#1 v1.5) (${ALGORITHM_OIDS.SHA256_WITH_RSA})` +
          ' is not allowed (RS-018: RSA-PSS only)',
      ),
    );
  });

  test('RSA-PSS parameters other than SHA-2 with a matching MGF1 are refused', async () => {
    const issuer = fixture.internetGateway;
    const sha1Defaults = sequence(oid(ALGORITHM_OIDS.RSA_PSS), sequence());
    const mixed = sequence(
      oid(ALGORITHM_OIDS.RSA_PSS),
      sequence(
        explicit(0, sequence(oid(ALGORITHM_OIDS.SHA256), nullValue())),
        explicit(1, sequence(oid(ALGORITHM_OIDS.MGF1), sequence(oid(ALGORITHM_OIDS.SHA512), nullValue()))),
        explicit(2, integer(32)),
      ),
    );
    const noParams = sequence(oid(ALGORITHM_OIDS.RSA_PSS));
    const cases: [Buffer, string][] = [
      [sha1Defaults, 'Certificate signature algorithm: RSA-PSS hash defaults to SHA-1, which RS-018 forbids'],
      [mixed, 'Certificate signature algorithm: RSA-PSS uses SHA-256 but MGF1 uses SHA-512; they must match'],
      [noParams, 'Certificate signature algorithm: RSA-PSS without parameters implies SHA-1, which RS-018 forbids'],
    ];
    for (const [signatureAlgorithm, message] of cases) {
      const cert = Certificate.deserialize(
        craftCertificate({
          subjectPublicKey: keys[0].publicKey,
          issuerPrivateKey: issuer.keyPair.privateKey,
          signatureAlgorithm,
        }),
      );
      await expect(cert.verifySignature(issuer.keyPair.publicKey)).rejects.toThrow(new CryptoError(message));
    }
  });

  test('RSA-PSS parameters out of order, with two values or an absurd salt length are refused', async () => {
    // The same checks as CMS signatures: before they were shared, such certificates verified.
    const issuer = fixture.internetGateway;
    const sha256 = sequence(oid(ALGORITHM_OIDS.SHA256), nullValue());
    const mgf1 = sequence(oid(ALGORITHM_OIDS.MGF1), sha256);
    const pss = (...fields: Buffer[]): Buffer => sequence(oid(ALGORITHM_OIDS.RSA_PSS), sequence(...fields));
    const cases: [Buffer, RegExp][] = [
      [pss(explicit(1, mgf1), explicit(0, sha256), explicit(2, integer(32))), /unexpected RSA-PSS parameter/],
      [pss(explicit(0, sha256, sha256), explicit(1, mgf1), explicit(2, integer(32))), /must hold one value/],
      [
        pss(explicit(0, sha256), explicit(1, mgf1), explicit(2, integer(100_000))),
        /salt length 100000 is out of range/,
      ],
    ];
    for (const [signatureAlgorithm, message] of cases) {
      const cert = Certificate.deserialize(
        craftCertificate({
          subjectPublicKey: keys[0].publicKey,
          issuerPrivateKey: issuer.keyPair.privateKey,
          signatureAlgorithm,
        }),
      );
      const error = await catchError(cert.verifySignature(issuer.keyPair.publicKey));
      expect(error).toBeInstanceOf(CryptoError);
      expect(error.message).toMatch(message);
    }
  });

  test('verifySignature refuses weak and non-RSA keys', async () => {
    const cert = fixture.internetGateway.certificate;
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await expect(cert.verifySignature(getWeakRsaKeyPair().publicKey)).rejects.toThrow(CryptoError);
    await expect(cert.verifySignature(ec.publicKey)).rejects.toThrow('Issuer public key must be an RSA key (got ec)');
  });

  test('an issuer with a key under 2048 bits is refused', async () => {
    const weak = getWeakRsaKeyPair();
    const weakIssuer = Certificate.deserialize(
      craftCertificate({ subjectPublicKey: weak.publicKey, issuerPrivateKey: weak.privateKey, commonName: 'weak' }),
    );
    const child = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: weak.privateKey,
        issuerName: weakIssuer.subjectName,
      }),
    );
    await expect(child.isIssuedBy(weakIssuer)).rejects.toThrow(CertificateError);
  });
});

describe('getCertificationPath', () => {
  test('builds the full PDA path, leaf first and trusted root last', async () => {
    const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
    const path = await publicEndpoint.pda.getCertificationPath(
      [privateGateway.certificate, publicEndpoint.certificate, privateEndpoint.certificate],
      [internetGateway.certificate],
    );
    expect(path).toEqual([
      publicEndpoint.pda,
      privateEndpoint.certificate,
      privateGateway.certificate,
      internetGateway.certificate,
    ]);
  });

  test('stops at the first trusted certificate', async () => {
    const { privateGateway, privateEndpoint, publicEndpoint } = fixture;
    const path = await publicEndpoint.pda.getCertificationPath(
      [privateEndpoint.certificate, privateGateway.certificate],
      [privateEndpoint.certificate],
    );
    expect(path).toEqual([publicEndpoint.pda, privateEndpoint.certificate]);
  });

  test('a trusted leaf is a path of one', async () => {
    const cert = fixture.internetGateway.certificate;
    await expect(cert.getCertificationPath([], [Certificate.deserialize(cert.serialize())])).resolves.toEqual([cert]);
  });

  test('checks the dates at the given time', async () => {
    const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
    const at = new Date(fixture.startDate.getTime() + 1000);
    const path = await publicEndpoint.pda.getCertificationPath(
      [privateEndpoint.certificate, privateGateway.certificate],
      [internetGateway.certificate],
      at,
    );
    expect(path).toHaveLength(4);
  });

  test('refuses when an intermediate is missing', async () => {
    const { internetGateway, privateGateway, publicEndpoint } = fixture;
    await expect(
      publicEndpoint.pda.getCertificationPath([privateGateway.certificate], [internetGateway.certificate]),
    ).rejects.toThrow(
      new CertificateError(
        `No certification path for certificate for ${publicEndpoint.pda.calculateSubjectId()}: ` +
          'no issuer found among 1 intermediate and 1 trusted certificate(s)',
      ),
    );
  });

  test('refuses an expired or not yet valid leaf', async () => {
    const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
    const intermediates = [privateEndpoint.certificate, privateGateway.certificate];
    const late = new Date(publicEndpoint.pda.expiryDate.getTime() + 1000);
    const error = await catchError(
      publicEndpoint.pda.getCertificationPath(intermediates, [internetGateway.certificate], late),
    );
    expect(error).toBeInstanceOf(CertificateError);
    expect(error.message).toMatch(/^Leaf certificate is invalid: Certificate already expired/);
    expect(error.cause).toBeInstanceOf(CertificateError);
    const early = new Date(publicEndpoint.pda.startDate.getTime() - 1000);
    await expect(
      publicEndpoint.pda.getCertificationPath(intermediates, [internetGateway.certificate], early),
    ).rejects.toThrow('Leaf certificate is invalid: Certificate is not yet valid');
  });

  test('refuses a leaf whose key is under 2048 bits', async () => {
    const weak = getWeakRsaKeyPair();
    const issuer = fixture.internetGateway;
    const leaf = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: weak.publicKey,
        issuerPrivateKey: issuer.keyPair.privateKey,
        issuerName: issuer.certificate.subjectName,
      }),
    );
    await expect(leaf.getCertificationPath([], [issuer.certificate])).rejects.toThrow(
      'Leaf certificate is invalid: Certificate subject public key must have a modulus of at least 2048 bits',
    );
  });

  test('refuses an issuer that is not valid at the given time', async () => {
    const root = fixture.internetGateway;
    const start = new Date(root.certificate.startDate.getTime() - 2 * HOUR);
    const leaf = await issueEndpointCertificate({
      subjectPublicKey: keys[4].publicKey,
      issuerPrivateKey: root.keyPair.privateKey,
      issuerCertificate: root.certificate,
      validityStartDate: start,
      validityEndDate: root.certificate.expiryDate,
    });
    const at = new Date(start.getTime() + HOUR);
    const error = await catchError(leaf.getCertificationPath([], [root.certificate], at));
    expect(error).toBeInstanceOf(CertificateError);
    expect(error.message).toContain(`is not valid at ${at.toISOString()}`);
    expect((error.cause as Error).cause).toBeInstanceOf(CertificateError);
    await expect(leaf.getCertificationPath([], [root.certificate])).resolves.toHaveLength(2);
  });

  test('refuses an issuer that is not a CA', async () => {
    const { publicEndpoint, privateEndpoint, privateGateway, internetGateway } = fixture;
    const pda = publicEndpoint.pda;
    const leaf = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[5].publicKey,
        issuerPrivateKey: publicEndpoint.keyPair.privateKey,
        issuerName: pda.subjectName,
        extensions: [basicConstraintsExtension(false, 0), authorityKeyIdExtension(pda.subjectKeyIdentifier!)],
      }),
    );
    await expect(leaf.isIssuedBy(pda)).resolves.toBe(true);
    await expect(
      leaf.getCertificationPath(
        [pda, privateEndpoint.certificate, privateGateway.certificate],
        [internetGateway.certificate],
      ),
    ).rejects.toThrow(`issuer "${pda.commonName}" is not a CA`);
  });

  test('honours pathLenConstraint', async () => {
    const { internetGateway, privateGateway, privateEndpoint } = fixture;
    // An endpoint certificate (pathLenConstraint 0) issuing another CA, which issues a PDA.
    const subCa = await issueEndpointCertificate({
      subjectPublicKey: keys[4].publicKey,
      issuerPrivateKey: privateEndpoint.keyPair.privateKey,
      issuerCertificate: privateEndpoint.certificate,
      validityEndDate: privateEndpoint.certificate.expiryDate,
    });
    const leaf = await issueDeliveryAuthorization({
      subjectPublicKey: keys[5].publicKey,
      issuerPrivateKey: keys[4].privateKey,
      issuerCertificate: subCa,
      validityEndDate: subCa.expiryDate,
    });
    const intermediates = [subCa, privateEndpoint.certificate, privateGateway.certificate];
    await expect(leaf.getCertificationPath(intermediates, [internetGateway.certificate])).rejects.toThrow(
      `issuer "${privateEndpoint.certificate.commonName}" has pathLenConstraint 0 but 1 intermediate(s) follow it`,
    );
    // Trusting the sub-CA's issuer's issuer directly does not help either: the constraint is on the path.
    await expect(leaf.getCertificationPath(intermediates, [privateEndpoint.certificate])).rejects.toThrow(
      'has pathLenConstraint 0 but 1 intermediate(s) follow it',
    );
    // Trusting the sub-CA itself is fine.
    await expect(leaf.getCertificationPath([], [subCa])).resolves.toHaveLength(2);
  });

  test('a self-issued intermediate does not count against pathLenConstraint', async () => {
    const root = fixture.internetGateway;
    // A CA with pathLenConstraint 0 whose key also self-issued a second certificate (same name).
    const ca = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[4].publicKey,
        issuerPrivateKey: root.keyPair.privateKey,
        commonName: 'ca',
        issuerName: root.certificate.subjectName,
        extensions: [basicConstraintsExtension(true, 0)],
      }),
    );
    const caSelfIssued = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[4].publicKey,
        issuerPrivateKey: keys[4].privateKey,
        commonName: 'ca',
        serialNumber: 99n,
        extensions: [basicConstraintsExtension(true, 0)],
      }),
    );
    const leaf = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[5].publicKey,
        issuerPrivateKey: keys[4].privateKey,
        issuerName: ca.subjectName,
        extensions: [basicConstraintsExtension(false, 0)],
      }),
    );
    // root (pathLen 2) → ca → caSelfIssued → leaf: the self-issued hop is free.
    const path = await leaf.getCertificationPath([caSelfIssued, ca], [root.certificate]);
    expect(path).toEqual([leaf, caSelfIssued, ca, root.certificate]);
  });

  test('refuses an issuer whose SKI does not match the AKI', async () => {
    const { privateEndpoint, privateGateway, internetGateway } = fixture;
    const leaf = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[5].publicKey,
        issuerPrivateKey: privateEndpoint.keyPair.privateKey,
        issuerName: privateEndpoint.certificate.subjectName,
        extensions: [basicConstraintsExtension(false, 0), authorityKeyIdExtension(randomBytes(32))],
      }),
    );
    await expect(
      leaf.getCertificationPath(
        [privateEndpoint.certificate, privateGateway.certificate],
        [internetGateway.certificate],
      ),
    ).rejects.toThrow('has a subject key identifier that does not match the authority key identifier');
  });

  test('refuses a tampered signature', async () => {
    const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
    const tamperedIntermediate = Certificate.deserialize(flipBit(privateEndpoint.certificate.serialize(), -3));
    const error = await catchError(
      publicEndpoint.pda.getCertificationPath(
        [tamperedIntermediate, privateGateway.certificate],
        [internetGateway.certificate],
      ),
    );
    expect(error).toBeInstanceOf(CertificateError);
    expect(error.message).toContain(
      `issuer "${privateGateway.certificate.commonName}" did not sign "${privateEndpoint.certificate.commonName}"` +
        ' (signature does not verify)',
    );
  });

  test('refuses a PKCS#1 v1.5-signed certificate on the path', async () => {
    const root = fixture.internetGateway;
    const leaf = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[5].publicKey,
        issuerPrivateKey: root.keyPair.privateKey,
        issuerName: root.certificate.subjectName,
        signatureScheme: 'pkcs1',
      }),
    );
    const error = await catchError(leaf.getCertificationPath([], [root.certificate]));
    expect(error).toBeInstanceOf(CertificateError);
    expect(error.message).toContain('RS-018: RSA-PSS only');
    expect((error.cause as Error).cause).toBeInstanceOf(CryptoError);
  });

  test('backtracks past a decoy with the same name', async () => {
    const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
    // Same subject name as the private endpoint, different key, issued by the private gateway.
    const decoy = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[5].publicKey,
        issuerPrivateKey: privateGateway.keyPair.privateKey,
        subjectName: privateEndpoint.certificate.subjectName,
        issuerName: privateGateway.certificate.subjectName,
        extensions: [basicConstraintsExtension(true, 0)],
      }),
    );
    // A leaf without AKI, so only the signature tells the candidates apart.
    const leaf = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: publicEndpoint.keyPair.publicKey,
        issuerPrivateKey: privateEndpoint.keyPair.privateKey,
        issuerName: privateEndpoint.certificate.subjectName,
        extensions: [basicConstraintsExtension(false, 0)],
      }),
    );
    const path = await leaf.getCertificationPath(
      [decoy, privateGateway.certificate, privateEndpoint.certificate],
      [internetGateway.certificate],
    );
    expect(path).toEqual([leaf, privateEndpoint.certificate, privateGateway.certificate, internetGateway.certificate]);
  });

  test('terminates on cycles', async () => {
    const nameA = encodeCommonNameName('A');
    const nameB = encodeCommonNameName('B');
    const a = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[0].publicKey,
        issuerPrivateKey: keys[1].privateKey,
        subjectName: nameA,
        issuerName: nameB,
      }),
    );
    const b = Certificate.deserialize(
      craftCertificate({
        subjectPublicKey: keys[1].publicKey,
        issuerPrivateKey: keys[0].privateKey,
        subjectName: nameB,
        issuerName: nameA,
      }),
    );
    await expect(a.getCertificationPath([a, b], [fixture.internetGateway.certificate])).rejects.toThrow(
      CertificateError,
    );
  });

  test('a certificate signed by an untrusted root is refused', async () => {
    const { privateGateway, privateEndpoint, publicEndpoint } = fixture;
    await expect(
      publicEndpoint.pda.getCertificationPath(
        [privateEndpoint.certificate],
        [privateGateway.certificate, publicEndpoint.certificate],
      ),
    ).resolves.toHaveLength(3);
    await expect(
      publicEndpoint.pda.getCertificationPath(
        [privateEndpoint.certificate, privateGateway.certificate],
        [publicEndpoint.certificate],
      ),
    ).rejects.toThrow(CertificateError);
  });
});

describe('calculateSubjectId', () => {
  test('is the SHA-256 of the SPKI, prefixed by 0, and equals the CN of issued certificates', () => {
    const cert = fixture.privateEndpoint.certificate;
    const expected = '0' + createHash('sha256').update(cert.subjectPublicKeyInfo).digest('hex');
    expect(cert.calculateSubjectId()).toBe(expected);
    expect(cert.commonName).toBe(expected);
  });
});
