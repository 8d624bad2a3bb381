import { createPublicKey, type KeyObject } from 'node:crypto';

import { generateRsaKeyPair, issueEndpointCertificate, type Certificate } from '@twitter-relaynet/core';

import type { Clock } from './clock';
import type { IdentityRecord, KeyStore } from './stores/types';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Load the identity, generating the RSA key on first start. */
export async function loadOrCreateIdentityKey(keys: KeyStore): Promise<IdentityRecord> {
  const existing = await keys.getIdentity();
  if (existing) return existing;
  const { privateKey } = await generateRsaKeyPair();
  const identity: IdentityRecord = { privateKey, certificate: null, certificateChain: [] };
  await keys.saveIdentity(identity);
  return identity;
}

/**
 * A public endpoint's self-issued certificate: issued on first start, reissued (same key, so the same id)
 * when less than `renewBeforeMs` of validity remains.
 */
export async function loadOrCreateSelfIssuedIdentity(
  keys: KeyStore,
  clock: Clock,
  options: { validityMs?: number; renewBeforeMs?: number } = {},
): Promise<IdentityRecord & { certificate: Certificate }> {
  const identity = await loadOrCreateIdentityKey(keys);
  const now = clock.now();
  const renewBefore = options.renewBeforeMs ?? 30 * DAY_MS;
  if (identity.certificate && identity.certificate.expiryDate.getTime() - now.getTime() > renewBefore) {
    return identity as IdentityRecord & { certificate: Certificate };
  }
  const certificate = await selfIssue(identity.privateKey, now, options.validityMs ?? 365 * DAY_MS);
  const renewed = { privateKey: identity.privateKey, certificate, certificateChain: [] };
  await keys.saveIdentity(renewed);
  return renewed;
}

async function selfIssue(privateKey: KeyObject, now: Date, validityMs: number): Promise<Certificate> {
  return issueEndpointCertificate({
    subjectPublicKey: createPublicKey(privateKey),
    issuerPrivateKey: privateKey,
    // Backdated: peers may have clocks up to 2 h behind (RS-000 clock drift tolerance).
    validityStartDate: new Date(now.getTime() - 2 * HOUR_MS),
    validityEndDate: new Date(now.getTime() + validityMs),
  });
}
