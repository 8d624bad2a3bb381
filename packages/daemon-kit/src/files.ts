/** Key and certificate files in a daemon's data directory (keys 0600, directory 0700). */
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';

import {
  Certificate,
  derDeserializeRsaPrivateKey,
  derSerializePrivateKey,
  derToPem,
  generateRsaKeyPair,
  type KeyPair,
  pemToDer,
  writeFileAtomically,
} from '@twitter-relaynet/core';
import { createPublicKey } from 'node:crypto';

/** Create `dir` (and parents) if needed and make it 0700. */
export function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** The RSA identity key pair at `path` (PKCS#8 PEM, 0600), generated on first use. */
export async function loadOrCreateKeyPair(path: string): Promise<{ keyPair: KeyPair; created: boolean }> {
  if (existsSync(path)) {
    const privateKey = derDeserializeRsaPrivateKey(pemToDer(readFileSync(path), 'PRIVATE KEY'));
    return { keyPair: { privateKey, publicKey: createPublicKey(privateKey) }, created: false };
  }
  const keyPair = await generateRsaKeyPair(2048);
  await writeFileAtomically(path, derToPem(derSerializePrivateKey(keyPair.privateKey), 'PRIVATE KEY'), 0o600);
  return { keyPair, created: true };
}

export function readCertificate(path: string): Certificate | null {
  if (!existsSync(path)) return null;
  return Certificate.deserialize(pemToDer(readFileSync(path), 'CERTIFICATE'));
}

export async function writeCertificate(path: string, certificate: Certificate, mode = 0o644): Promise<void> {
  await writeFileAtomically(path, derToPem(certificate.serialize(), 'CERTIFICATE'), mode);
}
