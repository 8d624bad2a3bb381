import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  certificateFingerprint,
  generateSelfSignedCertificate,
  loadOrCreateServerTlsIdentity,
  TLS_CERTIFICATE_FILE,
  TLS_KEY_FILE,
} from './tls';

describe('generateSelfSignedCertificate', () => {
  it('produces a parseable, self-verifying certificate with the requested SANs', () => {
    const identity = generateSelfSignedCertificate({ hostnames: ['adapter.example', '127.0.0.1', '::1'] });
    const certificate = new X509Certificate(identity.certificatePem);

    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.subject).toBe('CN=adapter.example');
    expect(certificate.checkHost('adapter.example')).toBe('adapter.example');
    expect(certificate.checkHost('other.example')).toBeUndefined();
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certificate.checkIP('::1')).toBe('::1');
    expect(certificate.checkIP('10.0.0.1')).toBeUndefined();
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(certificate.checkPrivateKey(createPrivateKey(identity.keyPem))).toBe(true);
  });

  it('is valid from a few minutes ago for the requested number of days', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const certificate = new X509Certificate(generateSelfSignedCertificate({ now, validityDays: 10 }).certificatePem);
    expect(new Date(certificate.validFrom).toISOString()).toBe('2029-12-31T23:55:00.000Z');
    expect(new Date(certificate.validTo).toISOString()).toBe('2030-01-11T00:00:00.000Z');
  });

  it('uses GeneralizedTime after 2049', () => {
    const now = new Date('2049-12-30T00:00:00Z');
    const certificate = new X509Certificate(generateSelfSignedCertificate({ now, validityDays: 5 }).certificatePem);
    expect(new Date(certificate.validTo).toISOString()).toBe('2050-01-04T00:00:00.000Z');
  });

  it('generates a fresh key and serial each time', () => {
    const a = generateSelfSignedCertificate();
    const b = generateSelfSignedCertificate();
    expect(certificateFingerprint(a.certificatePem)).not.toBe(certificateFingerprint(b.certificatePem));
    expect(new X509Certificate(a.certificatePem).serialNumber).not.toBe(
      new X509Certificate(b.certificatePem).serialNumber,
    );
  });
});

describe('loadOrCreateServerTlsIdentity', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pogrpc-tls-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates the identity on first start (key 0600) and reuses it afterwards', async () => {
    const first = await loadOrCreateServerTlsIdentity(join(dir, 'state'));
    const second = await loadOrCreateServerTlsIdentity(join(dir, 'state'));

    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.certificatePem).toBe(first.certificatePem);
    expect((await stat(join(dir, 'state', TLS_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'state', TLS_CERTIFICATE_FILE), 'utf8')).toBe(first.certificatePem);
  });

  it('replaces a certificate that does not cover a requested host name', async () => {
    const first = await loadOrCreateServerTlsIdentity(dir, { hostnames: ['a.example'] });
    const second = await loadOrCreateServerTlsIdentity(dir, { hostnames: ['b.example'] });
    expect(second.created).toBe(true);
    expect(second.certificatePem).not.toBe(first.certificatePem);
  });

  it('replaces a certificate about to expire', async () => {
    const first = await loadOrCreateServerTlsIdentity(dir, { validityDays: 10 });
    const second = await loadOrCreateServerTlsIdentity(dir);
    expect(second.created).toBe(true);
    expect(second.certificatePem).not.toBe(first.certificatePem);
  });
});
