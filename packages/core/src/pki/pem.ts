/** PEM (RFC 7468) <-> DER for certificates, PKCS#8 private keys and SPKI public keys. */
import { RelaynetSyntaxError } from '../errors';

export type PemLabel = 'CERTIFICATE' | 'PRIVATE KEY' | 'PUBLIC KEY';

const LINE_LENGTH = 64;
const BASE64_REGEX = /^[A-Za-z0-9+/]*={0,2}$/;

export function derToPem(der: Buffer, label: PemLabel): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += LINE_LENGTH) {
    lines.push(base64.slice(i, i + LINE_LENGTH));
  }
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * The DER inside the first PEM block with the given label. Text around blocks (e.g. OpenSSL's
 * "Bag Attributes") and other blocks are ignored.
 */
export function pemToDer(pem: string | Buffer, label: PemLabel): Buffer {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const start = text.indexOf(begin);
  if (start < 0) {
    throw new RelaynetSyntaxError(`No PEM block labelled "${label}" found`);
  }
  const stop = text.indexOf(end, start + begin.length);
  if (stop < 0) {
    throw new RelaynetSyntaxError(`PEM block "${label}" is not terminated`);
  }
  const base64 = text.slice(start + begin.length, stop).replace(/\s+/g, '');
  if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64_REGEX.test(base64)) {
    throw new RelaynetSyntaxError(`PEM block "${label}" does not contain valid base64`);
  }
  return Buffer.from(base64, 'base64');
}

/**
 * Accept a PEM block (as text or bytes) or raw DER and return the DER. DER always starts with a
 * SEQUENCE tag (0x30) for the three supported types, which never starts a PEM file.
 */
export function pemOrDerToDer(input: string | Buffer, label: PemLabel): Buffer {
  if (Buffer.isBuffer(input) && input.length > 0 && input[0] === 0x30) {
    return input;
  }
  return pemToDer(input, label);
}
