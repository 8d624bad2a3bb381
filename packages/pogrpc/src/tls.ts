/**
 * TLS identity for a PogRPC server: a self-signed ECDSA P-256 X.509 certificate, generated on first start and
 * kept with the node's state, which clients pin. node:crypto can sign but cannot build certificates, so this file
 * carries a minimal DER writer (just what a certificate needs).
 */
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

import { writeFileAtomically } from '@twitter-relaynet/core';

import { PogRPCError } from './errors';

// ---- minimal DER writer ----

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n & 0xff);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

/** Tag-length-value with the given identifier octet. */
export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const value = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [];
    let n = arc;
    do {
      base128.unshift(n & 0x7f);
      n = Math.floor(n / 128);
    } while (n > 0);
    for (let i = 0; i < base128.length - 1; i++) base128[i] |= 0x80;
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

/** Non-negative INTEGER from big-endian magnitude octets. */
function integer(magnitude: Buffer): Buffer {
  let bytes = magnitude;
  while (bytes.length > 1 && bytes[0] === 0 && bytes[1] < 0x80) bytes = bytes.subarray(1);
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z'; // YYYYMMDDHHMMSSZ
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2))) : tlv(0x18, Buffer.from(digits));
}

function ipOctets(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::"
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}

const OID_EC_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_SAN = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

export interface TlsIdentity {
  readonly keyPem: string;
  readonly certificatePem: string;
}

export interface SelfSignedOptions {
  /** DNS names and IP addresses for the subjectAltName; default `localhost`, `127.0.0.1`, `::1`. */
  readonly hostnames?: readonly string[];
  readonly validityDays?: number;
  readonly now?: Date;
}

export const DEFAULT_TLS_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** Generate a self-signed ECDSA P-256 server certificate (SAN = host names / IPs, EKU = serverAuth). */
export function generateSelfSignedCertificate(options: SelfSignedOptions = {}): TlsIdentity {
  const hostnames = options.hostnames?.length ? options.hostnames : DEFAULT_TLS_HOSTNAMES;
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + (options.validityDays ?? 365) * 86_400_000);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const commonName = hostnames.find((h) => !isIP(h)) ?? hostnames[0];
  const name = sequence(set(sequence(oid(OID_COMMON_NAME), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const algorithm = sequence(oid(OID_EC_SHA256));
  const altNames = hostnames.map((h) => (isIP(h) ? tlv(0x87, ipOctets(h)) : tlv(0x82, Buffer.from(h, 'ascii'))));
  const extensions = tlv(
    0xa3,
    sequence(
      sequence(oid(OID_BASIC_CONSTRAINTS), tlv(0x01, Buffer.from([0xff])), tlv(0x04, sequence())),
      sequence(oid(OID_EXT_KEY_USAGE), tlv(0x04, sequence(oid(OID_SERVER_AUTH)))),
      sequence(oid(OID_SAN), tlv(0x04, sequence(...altNames))),
    ),
  );
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(serial),
    algorithm,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const certificate = sequence(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificatePem: toPem(certificate),
  };
}

function toPem(der: Buffer): string {
  const base64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

/** SHA-256 fingerprint (lowercase hex) of a certificate's DER, for pinning. */
export function certificateFingerprint(certificatePemOrDer: string | Buffer): string {
  const der =
    typeof certificatePemOrDer === 'string' ? new X509Certificate(certificatePemOrDer).raw : certificatePemOrDer;
  return createHash('sha256').update(der).digest('hex');
}

export const TLS_KEY_FILE = 'pogrpc-tls-key.pem';
export const TLS_CERTIFICATE_FILE = 'pogrpc-tls-cert.pem';

/**
 * Load the server's TLS identity from `stateDir`, or generate and store it on first start (key 0600). A stored
 * certificate that expires within 30 days, or whose SAN misses a requested host name, is replaced.
 */
export async function loadOrCreateServerTlsIdentity(
  stateDir: string,
  options: SelfSignedOptions = {},
): Promise<TlsIdentity & { readonly created: boolean }> {
  const keyPath = join(stateDir, TLS_KEY_FILE);
  const certificatePath = join(stateDir, TLS_CERTIFICATE_FILE);
  try {
    const [keyPem, certificatePem] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certificatePath, 'utf8')]);
    if (isUsable(certificatePem, options)) return { keyPem, certificatePem, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new PogRPCError(`Could not read the TLS identity in ${stateDir}`, { cause: error });
    }
  }
  const identity = generateSelfSignedCertificate(options);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomically(keyPath, identity.keyPem, 0o600);
  await writeFileAtomically(certificatePath, identity.certificatePem, 0o644);
  return { ...identity, created: true };
}

function isUsable(certificatePem: string, options: SelfSignedOptions): boolean {
  const certificate = new X509Certificate(certificatePem);
  const now = options.now ?? new Date();
  if (new Date(certificate.validTo).getTime() - now.getTime() < 30 * 86_400_000) return false;
  const hostnames = options.hostnames?.length ? options.hostnames : DEFAULT_TLS_HOSTNAMES;
  return hostnames.every((h) => (isIP(h) ? certificate.checkIP(h) : certificate.checkHost(h)) !== undefined);
}
