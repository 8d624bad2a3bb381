import { createPublicKey, generateKeyPairSync } from 'node:crypto';

import { RelaynetSyntaxError } from '../errors';
import { derToPem, pemOrDerToDer, pemToDer } from './pem';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const spki = publicKey.export({ type: 'spki', format: 'der' });
const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });

describe('derToPem', () => {
  test('writes what OpenSSL writes (64-column base64 between the markers)', () => {
    expect(derToPem(spki, 'PUBLIC KEY')).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
    expect(derToPem(pkcs8, 'PRIVATE KEY')).toBe(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  });

  test('wraps long values at 64 characters', () => {
    const pem = derToPem(Buffer.alloc(100, 0xab), 'CERTIFICATE');
    const lines = pem.trimEnd().split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines[lines.length - 1]).toBe('-----END CERTIFICATE-----');
    expect(lines.slice(1, -1).map((l) => l.length)).toEqual([64, 64, 8]);
  });
});

describe('pemToDer', () => {
  test('round-trips', () => {
    expect(pemToDer(derToPem(spki, 'PUBLIC KEY'), 'PUBLIC KEY')).toEqual(spki);
    expect(pemToDer(Buffer.from(derToPem(pkcs8, 'PRIVATE KEY')), 'PRIVATE KEY')).toEqual(pkcs8);
  });

  test('reads what node writes, with CRLF and surrounding text', () => {
    const pem = (publicKey.export({ type: 'spki', format: 'pem' }) as string).replace(/\n/g, '\r\n');
    const der = pemToDer(`Bag Attributes\r\n${pem}trailing`, 'PUBLIC KEY');
    expect(createPublicKey({ key: der, format: 'der', type: 'spki' }).equals(publicKey)).toBe(true);
  });

  test('picks the block with the requested label', () => {
    const bundle = derToPem(pkcs8, 'PRIVATE KEY') + derToPem(spki, 'PUBLIC KEY');
    expect(pemToDer(bundle, 'PUBLIC KEY')).toEqual(spki);
    expect(pemToDer(bundle, 'PRIVATE KEY')).toEqual(pkcs8);
  });

  test('refuses a missing label, an unterminated block and bad base64', () => {
    expect(() => pemToDer(derToPem(spki, 'PUBLIC KEY'), 'CERTIFICATE')).toThrow(
      new RelaynetSyntaxError('No PEM block labelled "CERTIFICATE" found'),
    );
    expect(() => pemToDer('-----BEGIN CERTIFICATE-----\nAAAA\n', 'CERTIFICATE')).toThrow('is not terminated');
    expect(() => pemToDer('-----BEGIN CERTIFICATE-----\nA*A=\n-----END CERTIFICATE-----', 'CERTIFICATE')).toThrow(
      'does not contain valid base64',
    );
    expect(() => pemToDer('-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----', 'CERTIFICATE')).toThrow(
      RelaynetSyntaxError,
    );
    expect(() => pemToDer('-----BEGIN CERTIFICATE----------END CERTIFICATE-----', 'CERTIFICATE')).toThrow(
      RelaynetSyntaxError,
    );
  });
});

describe('pemOrDerToDer', () => {
  test('passes DER through', () => {
    expect(pemOrDerToDer(spki, 'PUBLIC KEY')).toBe(spki);
  });

  test('decodes PEM given as text or bytes', () => {
    const pem = derToPem(spki, 'PUBLIC KEY');
    expect(pemOrDerToDer(pem, 'PUBLIC KEY')).toEqual(spki);
    expect(pemOrDerToDer(Buffer.from(pem), 'PUBLIC KEY')).toEqual(spki);
  });

  test('refuses bytes that are neither', () => {
    expect(() => pemOrDerToDer(Buffer.from([0x04, 0x00]), 'PUBLIC KEY')).toThrow(RelaynetSyntaxError);
    expect(() => pemOrDerToDer(Buffer.alloc(0), 'PUBLIC KEY')).toThrow(RelaynetSyntaxError);
  });
});
