/**
 * Interoperability with the reference implementation, @relaycorp/relaynet-core@1.88.2.
 * Keys cross the boundary only as PKCS#8/SPKI DER.
 */
import * as ref from '@relaycorp/relaynet-core';

import { decodeAsn1 } from '../asn1/decode';
import { getPkiFixture, getRsaKeyPairs, PkiFixture } from '../testUtils/pki';
import { Certificate } from './Certificate';
import { CertificationPath } from './CertificationPath';
import { issueDeliveryAuthorization, issueEndpointCertificate, issueGatewayCertificate } from './issuance';
import {
  derSerializePrivateKey,
  derSerializePublicKey,
  getIdFromIdentityKey,
  getPublicKeyDigest,
  KeyPair,
} from './keys';

type RefKeyPair = { publicKey: CryptoKey; privateKey: CryptoKey };

async function toRefKeyPair(keyPair: KeyPair, hash = 'SHA-256'): Promise<RefKeyPair> {
  const algorithm = { name: 'RSA-PSS', hash: { name: hash } };
  return {
    privateKey: await ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(keyPair.privateKey), algorithm),
    publicKey: await ref.derDeserializeRSAPublicKey(derSerializePublicKey(keyPair.publicKey), algorithm),
  };
}

function ours(refCert: ref.Certificate): Certificate {
  return Certificate.deserialize(Buffer.from(refCert.serialize()));
}

function theirs(cert: Certificate): ref.Certificate {
  return ref.Certificate.deserialize(bufferToArrayBuffer(cert.serialize()));
}

function bufferToArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

/** The TBSCertificate fields' DER, keyed by name. */
function tbsFields(cert: Certificate): Record<string, string> {
  const [tbs] = decodeAsn1(cert.serialize()).children;
  const names = ['version', 'serialNumber', 'signature', 'issuer', 'validity', 'subject', 'spki', 'extensions'];
  expect(tbs.children).toHaveLength(names.length);
  return Object.fromEntries(tbs.children.map((field, i) => [names[i], field.encoded.toString('hex')]));
}

let keys: readonly KeyPair[];
let refKeys: RefKeyPair[];
let fixture: PkiFixture;
const startDate = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
const endDate = new Date(startDate.getTime() + 7 * 86_400_000);

beforeAll(async () => {
  keys = await getRsaKeyPairs();
  refKeys = await Promise.all(keys.map((k) => toRefKeyPair(k)));
  fixture = await getPkiFixture();
});

describe('reference-issued certificates read by this implementation', () => {
  let refChain: { ig: ref.Certificate; pg: ref.Certificate; pe: ref.Certificate; pda: ref.Certificate };

  beforeAll(async () => {
    const [ig, pg, pe, pub] = refKeys;
    const dates = { validityStartDate: startDate, validityEndDate: endDate };
    const igCert = await ref.issueGatewayCertificate({
      ...dates,
      subjectPublicKey: ig.publicKey,
      issuerPrivateKey: ig.privateKey,
    });
    const pgCert = await ref.issueGatewayCertificate({
      ...dates,
      subjectPublicKey: pg.publicKey,
      issuerPrivateKey: ig.privateKey,
      issuerCertificate: igCert,
    });
    const peCert = await ref.issueEndpointCertificate({
      ...dates,
      subjectPublicKey: pe.publicKey,
      issuerPrivateKey: pg.privateKey,
      issuerCertificate: pgCert,
    });
    const pda = await ref.issueDeliveryAuthorization({
      ...dates,
      subjectPublicKey: pub.publicKey,
      issuerPrivateKey: pe.privateKey,
      issuerCertificate: peCert,
    });
    refChain = { ig: igCert, pg: pgCert, pe: peCert, pda };
  });

  test('fields match what the reference reports', async () => {
    const expectations = [
      { cert: refChain.ig, key: keys[0], issuerKey: keys[0], isCA: true, pathLen: 2 },
      { cert: refChain.pg, key: keys[1], issuerKey: keys[0], isCA: true, pathLen: 1 },
      { cert: refChain.pe, key: keys[2], issuerKey: keys[1], isCA: true, pathLen: 0 },
      { cert: refChain.pda, key: keys[3], issuerKey: keys[2], isCA: false, pathLen: 0 },
    ];
    for (const { cert: refCert, key, issuerKey, isCA, pathLen } of expectations) {
      const cert = ours(refCert);
      expect(cert.serialize()).toEqual(Buffer.from(refCert.serialize()));
      expect(cert.commonName).toBe(refCert.getCommonName());
      expect(cert.commonName).toBe(getIdFromIdentityKey(key.publicKey));
      expect(cert.calculateSubjectId()).toBe(await refCert.calculateSubjectId());
      expect(cert.serialNumber).toEqual(refCert.getSerialNumber());
      expect(cert.startDate).toEqual(refCert.startDate);
      expect(cert.expiryDate).toEqual(refCert.expiryDate);
      expect(cert.startDate).toEqual(startDate);
      expect(cert.expiryDate).toEqual(endDate);
      expect(cert.isCA).toBe(isCA);
      expect(cert.pathLenConstraint).toBe(pathLen);
      expect(cert.subjectKeyIdentifier).toEqual(getPublicKeyDigest(derSerializePublicKey(key.publicKey)));
      expect(cert.authorityKeyIdentifier).toEqual(getPublicKeyDigest(derSerializePublicKey(issuerKey.publicKey)));
      expect(cert.getIssuerId()).toBe(refCert.getIssuerId());
      expect(cert.subjectPublicKeyInfo).toEqual(await ref.derSerializePublicKey(await refCert.getPublicKey()));
    }
  });

  test('the certification path is built and checked', async () => {
    const pda = ours(refChain.pda);
    const path = await pda.getCertificationPath([ours(refChain.pe), ours(refChain.pg)], [ours(refChain.ig)]);
    expect(path.map((c) => c.serialize())).toEqual(
      [refChain.pda, refChain.pe, refChain.pg, refChain.ig].map((c) => Buffer.from(c.serialize())),
    );
  });

  test('isIssuedBy verifies the reference signatures', async () => {
    await expect(ours(refChain.pda).isIssuedBy(ours(refChain.pe))).resolves.toBe(true);
    await expect(ours(refChain.pg).isIssuedBy(ours(refChain.ig))).resolves.toBe(true);
    await expect(ours(refChain.ig).isIssuedBy(ours(refChain.ig))).resolves.toBe(true);
    await expect(ours(refChain.pda).isIssuedBy(ours(refChain.pg))).resolves.toBe(false);
  });

  test('a reference certificate signed with SHA-384 verifies', async () => {
    const refKey384 = await toRefKeyPair(keys[4], 'SHA-384');
    const refCert = await ref.issueGatewayCertificate({
      validityStartDate: startDate,
      validityEndDate: endDate,
      subjectPublicKey: refKey384.publicKey,
      issuerPrivateKey: refKey384.privateKey,
    });
    const cert = ours(refCert);
    await expect(cert.isIssuedBy(cert)).resolves.toBe(true);
    await expect(cert.getCertificationPath([], [cert])).resolves.toHaveLength(1);
  });
});

describe('certificates issued by this implementation read by the reference', () => {
  test('fields match', async () => {
    const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
    for (const cert of [
      internetGateway.certificate,
      privateGateway.certificate,
      privateEndpoint.certificate,
      publicEndpoint.certificate,
      publicEndpoint.pda,
    ]) {
      const refCert = theirs(cert);
      expect(() => refCert.validate()).not.toThrow();
      expect(refCert.getCommonName()).toBe(cert.commonName);
      expect(await refCert.calculateSubjectId()).toBe(cert.calculateSubjectId());
      expect(refCert.getIssuerId()).toBe(cert.getIssuerId());
      expect(refCert.getSerialNumber()).toEqual(cert.serialNumber);
      expect(refCert.startDate).toEqual(cert.startDate);
      expect(refCert.expiryDate).toEqual(cert.expiryDate);
      expect(Buffer.from(refCert.serialize())).toEqual(cert.serialize());
    }
  });

  test('the reference builds the certification path', async () => {
    const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
    const path = await theirs(publicEndpoint.pda).getCertificationPath(
      [theirs(privateEndpoint.certificate), theirs(privateGateway.certificate)],
      [theirs(internetGateway.certificate)],
    );
    expect(path.map((c) => Buffer.from(c.serialize()))).toEqual(
      [publicEndpoint.pda, privateEndpoint.certificate, privateGateway.certificate, internetGateway.certificate].map(
        (c) => c.serialize(),
      ),
    );
  });

  test('the reference refuses a path through the wrong issuer', async () => {
    const { internetGateway, privateGateway, publicEndpoint } = fixture;
    await expect(
      theirs(publicEndpoint.pda).getCertificationPath(
        [theirs(privateGateway.certificate)],
        [theirs(internetGateway.certificate)],
      ),
    ).rejects.toThrow();
  });

  test('a certificate signed with SHA-384 verifies with the reference', async () => {
    const cert = await issueGatewayCertificate({
      validityStartDate: startDate,
      validityEndDate: endDate,
      subjectPublicKey: keys[4].publicKey,
      issuerPrivateKey: keys[4].privateKey,
      hashAlgorithm: 'SHA-384',
    });
    const refKey384 = await toRefKeyPair(keys[4], 'SHA-384');
    const refCert = await ref.issueGatewayCertificate({
      validityStartDate: startDate,
      validityEndDate: endDate,
      subjectPublicKey: refKey384.publicKey,
      issuerPrivateKey: refKey384.privateKey,
    });
    expect(tbsFields(cert).signature).toBe(tbsFields(ours(refCert)).signature);
    // PKI.js reports a trusted self-issued leaf twice ([leaf, leaf]); ours reports it once.
    const path = await theirs(cert).getCertificationPath([], [theirs(cert)]);
    expect(path.length).toBeGreaterThanOrEqual(1);
    for (const c of path) expect(Buffer.from(c.serialize())).toEqual(cert.serialize());
  });
});

describe('mixed chains', () => {
  test('reference root → our gateway → reference endpoint → our PDA, checked by both', async () => {
    const dates = { validityStartDate: startDate, validityEndDate: endDate };
    const refRoot = await ref.issueGatewayCertificate({
      ...dates,
      subjectPublicKey: refKeys[0].publicKey,
      issuerPrivateKey: refKeys[0].privateKey,
    });
    const ourGateway = await issueGatewayCertificate({
      ...dates,
      subjectPublicKey: keys[1].publicKey,
      issuerPrivateKey: keys[0].privateKey,
      issuerCertificate: ours(refRoot),
    });
    const refEndpoint = await ref.issueEndpointCertificate({
      ...dates,
      subjectPublicKey: refKeys[2].publicKey,
      issuerPrivateKey: refKeys[1].privateKey,
      issuerCertificate: theirs(ourGateway),
    });
    const ourPda = await issueDeliveryAuthorization({
      ...dates,
      subjectPublicKey: keys[3].publicKey,
      issuerPrivateKey: keys[2].privateKey,
      issuerCertificate: ours(refEndpoint),
    });

    const ourPath = await ourPda.getCertificationPath([ours(refEndpoint), ourGateway], [ours(refRoot)]);
    expect(ourPath.map((c) => c.commonName)).toEqual([3, 2, 1, 0].map((i) => getIdFromIdentityKey(keys[i].publicKey)));
    const refPath = await theirs(ourPda).getCertificationPath([refEndpoint, theirs(ourGateway)], [refRoot]);
    expect(refPath.map((c) => Buffer.from(c.serialize()))).toEqual(ourPath.map((c) => c.serialize()));
  });
});

describe('TBSCertificate matches the reference field by field', () => {
  const cases: [string, (issue: 'ours' | 'ref') => Promise<Certificate>][] = [
    [
      'self-issued gateway',
      async (who) => {
        const options = { validityStartDate: startDate, validityEndDate: endDate };
        return who === 'ours'
          ? issueGatewayCertificate({
              ...options,
              subjectPublicKey: keys[0].publicKey,
              issuerPrivateKey: keys[0].privateKey,
            })
          : ours(
              await ref.issueGatewayCertificate({
                ...options,
                subjectPublicKey: refKeys[0].publicKey,
                issuerPrivateKey: refKeys[0].privateKey,
              }),
            );
      },
    ],
    [
      'gateway issued by a peer',
      async (who) => {
        const options = { validityStartDate: startDate, validityEndDate: endDate };
        const issuer = fixture.internetGateway.certificate;
        return who === 'ours'
          ? issueGatewayCertificate({
              ...options,
              subjectPublicKey: keys[1].publicKey,
              issuerPrivateKey: keys[0].privateKey,
              issuerCertificate: issuer,
            })
          : ours(
              await ref.issueGatewayCertificate({
                ...options,
                subjectPublicKey: refKeys[1].publicKey,
                issuerPrivateKey: refKeys[0].privateKey,
                issuerCertificate: theirs(issuer),
              }),
            );
      },
    ],
    [
      'endpoint',
      async (who) => {
        const options = { validityStartDate: startDate, validityEndDate: endDate };
        const issuer = fixture.privateGateway.certificate;
        return who === 'ours'
          ? issueEndpointCertificate({
              ...options,
              subjectPublicKey: keys[2].publicKey,
              issuerPrivateKey: keys[1].privateKey,
              issuerCertificate: issuer,
            })
          : ours(
              await ref.issueEndpointCertificate({
                ...options,
                subjectPublicKey: refKeys[2].publicKey,
                issuerPrivateKey: refKeys[1].privateKey,
                issuerCertificate: theirs(issuer),
              }),
            );
      },
    ],
    [
      'PDA',
      async (who) => {
        const options = { validityStartDate: startDate, validityEndDate: endDate };
        const issuer = fixture.privateEndpoint.certificate;
        return who === 'ours'
          ? issueDeliveryAuthorization({
              ...options,
              subjectPublicKey: keys[3].publicKey,
              issuerPrivateKey: keys[2].privateKey,
              issuerCertificate: issuer,
            })
          : ours(
              await ref.issueDeliveryAuthorization({
                ...options,
                subjectPublicKey: refKeys[3].publicKey,
                issuerPrivateKey: refKeys[2].privateKey,
                issuerCertificate: theirs(issuer),
              }),
            );
      },
    ],
  ];

  test.each(cases)('%s', async (_name, issue) => {
    const [ourCert, refCert] = await Promise.all([issue('ours'), issue('ref')]);
    const ourFields = tbsFields(ourCert);
    const refFields = tbsFields(refCert);
    // The serial number is random: only its size is comparable (8 octets, positive).
    expect(ourCert.serialNumber).toHaveLength(8);
    expect(ourCert.serialNumber[0]).toBeLessThan(0x80);
    expect(refCert.serialNumber).toHaveLength(8);
    delete ourFields.serialNumber;
    delete refFields.serialNumber;
    expect(ourFields).toEqual(refFields);
    // The outer signature algorithm too.
    const [, ourAlgorithm] = decodeAsn1(ourCert.serialize()).children;
    const [, refAlgorithm] = decodeAsn1(refCert.serialize()).children;
    expect(ourAlgorithm.encoded).toEqual(refAlgorithm.encoded);
  });
});

describe('CertificationPath', () => {
  test('serializations are identical for the same certificates', () => {
    const { privateGateway, privateEndpoint, publicEndpoint } = fixture;
    const ourPath = new CertificationPath(publicEndpoint.pda, [
      privateEndpoint.certificate,
      privateGateway.certificate,
    ]);
    const refPath = new ref.CertificationPath(theirs(publicEndpoint.pda), [
      theirs(privateEndpoint.certificate),
      theirs(privateGateway.certificate),
    ]);
    expect(ourPath.serialize()).toEqual(Buffer.from(refPath.serialize()));
  });

  test('the reference reads ours', () => {
    const { privateGateway, privateEndpoint, publicEndpoint } = fixture;
    const ourPath = new CertificationPath(publicEndpoint.pda, [
      privateEndpoint.certificate,
      privateGateway.certificate,
    ]);
    const refPath = ref.CertificationPath.deserialize(bufferToArrayBuffer(ourPath.serialize()));
    expect(Buffer.from(refPath.leafCertificate.serialize())).toEqual(publicEndpoint.pda.serialize());
    expect(refPath.certificateAuthorities.map((c) => Buffer.from(c.serialize()))).toEqual([
      privateEndpoint.certificate.serialize(),
      privateGateway.certificate.serialize(),
    ]);
  });

  test('we read the reference', () => {
    const { internetGateway, privateGateway } = fixture;
    const refPath = new ref.CertificationPath(theirs(privateGateway.certificate), [
      theirs(internetGateway.certificate),
    ]);
    const path = CertificationPath.deserialize(Buffer.from(refPath.serialize()));
    expect(path.leafCertificate.isEqual(privateGateway.certificate)).toBe(true);
    expect(path.certificateAuthorities).toHaveLength(1);
    expect(path.certificateAuthorities[0].isEqual(internetGateway.certificate)).toBe(true);
  });

  test('an empty CA list round-trips both ways', () => {
    const leaf = fixture.internetGateway.certificate;
    const refBytes = Buffer.from(new ref.CertificationPath(theirs(leaf), []).serialize());
    expect(new CertificationPath(leaf, []).serialize()).toEqual(refBytes);
    expect(CertificationPath.deserialize(refBytes).certificateAuthorities).toHaveLength(0);
  });
});
