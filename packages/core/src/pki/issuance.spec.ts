import { CertificateError } from '../errors';
import { getPkiFixture, getRsaKeyPairs, PkiFixture } from '../testUtils/pki';
import { Certificate } from './Certificate';
import { issueDeliveryAuthorization, issueEndpointCertificate, issueGatewayCertificate } from './issuance';
import { derSerializePublicKey, getIdFromIdentityKey, getPublicKeyDigest, KeyPair } from './keys';

let keys: readonly KeyPair[];
let fixture: PkiFixture;

beforeAll(async () => {
  [keys, fixture] = await Promise.all([getRsaKeyPairs(), getPkiFixture()]);
});

const DAY = 86_400_000;

function keyId(pair: KeyPair): Buffer {
  return getPublicKeyDigest(derSerializePublicKey(pair.publicKey));
}

describe('issueGatewayCertificate', () => {
  test('self-issued: CA, pathLenConstraint 2, CN = node id, AKI = SKI', () => {
    const { certificate, keyPair } = fixture.internetGateway;
    expect(certificate.commonName).toBe(getIdFromIdentityKey(keyPair.publicKey));
    expect(certificate.isCA).toBe(true);
    expect(certificate.pathLenConstraint).toBe(2);
    expect(certificate.issuerName).toEqual(certificate.subjectName);
    expect(certificate.subjectKeyIdentifier).toEqual(keyId(keyPair));
    expect(certificate.authorityKeyIdentifier).toEqual(keyId(keyPair));
    expect(certificate.startDate).toEqual(fixture.startDate);
    expect(certificate.expiryDate).toEqual(fixture.endDate);
  });

  test('issued by a peer: CA, pathLenConstraint 1, issuer name and AKI from the peer', () => {
    const { certificate, keyPair } = fixture.privateGateway;
    const issuer = fixture.internetGateway;
    expect(certificate.commonName).toBe(getIdFromIdentityKey(keyPair.publicKey));
    expect(certificate.isCA).toBe(true);
    expect(certificate.pathLenConstraint).toBe(1);
    expect(certificate.issuerName).toEqual(issuer.certificate.subjectName);
    expect(certificate.authorityKeyIdentifier).toEqual(keyId(issuer.keyPair));
    expect(certificate.getIssuerId()).toBe(issuer.certificate.calculateSubjectId());
  });

  test('the end date is capped at the issuer expiry', async () => {
    const issuer = fixture.internetGateway;
    const cert = await issueGatewayCertificate({
      subjectPublicKey: keys[4].publicKey,
      issuerPrivateKey: issuer.keyPair.privateKey,
      issuerCertificate: issuer.certificate,
      validityEndDate: new Date(issuer.certificate.expiryDate.getTime() + DAY),
    });
    expect(cert.expiryDate).toEqual(issuer.certificate.expiryDate);
  });

  test('the hash algorithm can be chosen', async () => {
    const cert = await issueGatewayCertificate({
      subjectPublicKey: keys[4].publicKey,
      issuerPrivateKey: keys[4].privateKey,
      validityEndDate: new Date(Date.now() + DAY),
      hashAlgorithm: 'SHA-512',
    });
    await expect(cert.isIssuedBy(cert)).resolves.toBe(true);
  });
});

describe('issueEndpointCertificate', () => {
  test('issued by the private gateway: CA, pathLenConstraint 0', async () => {
    const { certificate, keyPair } = fixture.privateEndpoint;
    expect(certificate.commonName).toBe(getIdFromIdentityKey(keyPair.publicKey));
    expect(certificate.isCA).toBe(true);
    expect(certificate.pathLenConstraint).toBe(0);
    await expect(certificate.isIssuedBy(fixture.privateGateway.certificate)).resolves.toBe(true);
  });

  test('self-issued (Internet endpoint)', async () => {
    const { certificate, keyPair } = fixture.publicEndpoint;
    expect(certificate.commonName).toBe(getIdFromIdentityKey(keyPair.publicKey));
    expect(certificate.isCA).toBe(true);
    expect(certificate.pathLenConstraint).toBe(0);
    await expect(certificate.isIssuedBy(certificate)).resolves.toBe(true);
  });
});

describe('issueDeliveryAuthorization', () => {
  test('a PDA: not a CA, pathLenConstraint 0, issued by the private endpoint', async () => {
    const { pda, keyPair } = fixture.publicEndpoint;
    expect(pda.commonName).toBe(getIdFromIdentityKey(keyPair.publicKey));
    expect(pda.isCA).toBe(false);
    expect(pda.pathLenConstraint).toBe(0);
    expect(pda.getIssuerId()).toBe(fixture.privateEndpoint.certificate.calculateSubjectId());
    await expect(pda.isIssuedBy(fixture.privateEndpoint.certificate)).resolves.toBe(true);
  });

  test('a CDA: a private gateway authorizing its Internet gateway', async () => {
    const cda = await issueDeliveryAuthorization({
      subjectPublicKey: fixture.internetGateway.keyPair.publicKey,
      issuerPrivateKey: fixture.privateGateway.keyPair.privateKey,
      issuerCertificate: fixture.privateGateway.certificate,
      validityEndDate: new Date(Date.now() + DAY),
    });
    expect(cda.commonName).toBe(fixture.internetGateway.certificate.commonName);
    expect(cda.isCA).toBe(false);
    const path = await cda.getCertificationPath(
      [fixture.privateGateway.certificate],
      [fixture.internetGateway.certificate],
    );
    expect(path.map((c) => c.commonName)).toEqual([
      fixture.internetGateway.certificate.commonName,
      fixture.privateGateway.certificate.commonName,
      fixture.internetGateway.certificate.commonName,
    ]);
  });

  test('a PDA cannot issue further certificates', async () => {
    await expect(
      issueEndpointCertificate({
        subjectPublicKey: keys[5].publicKey,
        issuerPrivateKey: fixture.publicEndpoint.keyPair.privateKey,
        issuerCertificate: fixture.publicEndpoint.pda,
        validityEndDate: new Date(Date.now() + DAY),
      }),
    ).rejects.toThrow(new CertificateError('Issuer certificate is not a CA'));
  });
});

test('the fixture chain verifies end to end', async () => {
  const { internetGateway, privateGateway, privateEndpoint, publicEndpoint } = fixture;
  const path = await publicEndpoint.pda.getCertificationPath(
    [privateEndpoint.certificate, privateGateway.certificate],
    [internetGateway.certificate],
  );
  expect(path).toHaveLength(4);
  expect(path.every((c) => c instanceof Certificate)).toBe(true);
});
