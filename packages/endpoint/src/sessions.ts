/**
 * RS-003 channel sessions over the stores: payload encryption for a peer and decryption of what peers send.
 *
 * - Our session key pairs are kept by id (KeyStore), with the peer they were given to (null for an
 *   initial key published in the connection parameters), until they expire (at most 30 days), so late
 *   messages still decrypt.
 * - The peer's latest session key is kept (PeerSessionKeyStore); a message using our key carries the peer's
 *   next key, stored unless a newer one is known (messages arrive out of order).
 * - Outgoing payloads use the peer's latest key when known (session), its certificate otherwise (sessionless).
 *
 * Deviation, recorded: core's `encryptPayload` (like the reference implementation) generates the originator
 * (our) key pair inside every session encryption, so we cannot reuse our latest key until the peer has used
 * it: every session-encrypted message carries a new key of ours. That is RS-003's "generate a new key when
 * the peer has used our latest one", applied to every message (more keys, same security properties).
 */
import { randomUUID, type KeyObject } from 'node:crypto';

import {
  encryptPayload,
  generateSessionKeyPair,
  type Certificate,
  type EnvelopedDataKind,
  type Parcel,
  type ServiceMessage,
  type SessionKey,
} from '@twitter-relaynet/core';

import type { Clock } from './clock';
import { InvalidParcelError, isCoreError } from './errors';
import type { EndpointStores, OwnSessionKey } from './stores/types';

/** How long our session keys are kept (RS-003: SHOULD be ≤ 30 days). */
export const DEFAULT_SESSION_KEY_LIFETIME_MS = 30 * 24 * 3_600_000;
export const MAX_SESSION_KEY_LIFETIME_MS = 60 * 24 * 3_600_000;

export interface EncryptionResult {
  readonly envelopedData: Buffer;
  readonly kind: 'session' | 'sessionless';
  /** With a session: the id of the peer's key used and of ours sent along. */
  readonly peerSessionKeyId: Buffer | null;
  readonly ownSessionKeyId: Buffer | null;
  /**
   * Resolves once our new session key is stored durably (at once when sessionless). The message must not leave
   * before (the peer's reply would use a key we lost); meanwhile the caller may sign it, so that the commit and
   * the signature overlap.
   */
  readonly keySaved: Promise<void>;
}

export interface DecryptionResult {
  readonly message: ServiceMessage;
  readonly kind: 'session' | 'sessionless';
  /** The id of our session key the sender used (session only). */
  readonly ownSessionKeyId: Buffer | null;
  /** The sender's new session key (session only). */
  readonly peerSessionKey: SessionKey | null;
  /**
   * Resolves once the sender's new key is stored durably, to whether it became the peer's latest (false when
   * there is none). The parcel must not be acknowledged (nor recorded as handled) before; meanwhile the caller
   * may hand the message to the app, so that the commit and the app's work overlap.
   */
  readonly peerSessionKeyStored: Promise<boolean>;
}

export class SessionManager {
  constructor(
    private readonly stores: EndpointStores,
    private readonly clock: Clock,
    private readonly getIdentityKey: () => Promise<KeyObject>,
    private readonly sessionKeyLifetimeMs = DEFAULT_SESSION_KEY_LIFETIME_MS,
  ) {
    if (sessionKeyLifetimeMs <= 0 || sessionKeyLifetimeMs > MAX_SESSION_KEY_LIFETIME_MS) {
      throw new RangeError(`Session key lifetime must be within (0, ${MAX_SESSION_KEY_LIFETIME_MS}] ms`);
    }
  }

  /**
   * Encrypt `plaintext` for `peerId`: with its latest session key if known, else for `peerCertificate`. Await
   * `keySaved` before the message leaves.
   */
  async encrypt(plaintext: Buffer, peerId: string, peerCertificate: Certificate): Promise<EncryptionResult> {
    const peerKey = await this.stores.peerSessionKeys.get(peerId);
    if (!peerKey) {
      const { envelopedData } = await encryptPayload(plaintext, { certificate: peerCertificate });
      return {
        envelopedData,
        kind: 'sessionless',
        peerSessionKeyId: null,
        ownSessionKeyId: null,
        keySaved: Promise.resolve(),
      };
    }
    const result = await encryptPayload(plaintext, { sessionKey: peerKey.sessionKey });
    const now = this.clock.now();
    const keySaved = this.stores.keys.saveSessionKey({
      keyId: result.dhKeyId!,
      privateKey: result.dhPrivateKey!,
      peerId,
      creationDate: now,
      expiryDate: new Date(now.getTime() + this.sessionKeyLifetimeMs),
    });
    keySaved.catch(() => undefined); // the caller awaits it; not an unhandled rejection if it fails first
    return {
      envelopedData: result.envelopedData,
      kind: 'session',
      peerSessionKeyId: peerKey.sessionKey.keyId,
      ownSessionKeyId: result.dhKeyId,
      keySaved,
    };
  }

  /**
   * Decrypt a parcel from `senderId` (already validated) and remember the sender's new session key (await
   * `peerSessionKeyStored`).
   *
   * @throws InvalidParcelError if the payload is not for a key of ours (unknown, expired, given to another
   *   peer) or does not decrypt.
   */
  async decrypt(parcel: Parcel, senderId: string): Promise<DecryptionResult> {
    let kind: EnvelopedDataKind | undefined;
    let ownKey: OwnSessionKey | null = null;
    let unwrapped;
    try {
      unwrapped = await parcel.unwrapPayload(async (k) => {
        kind = k;
        if (k.kind === 'sessionless') return this.getIdentityKey();
        ownKey = await this.stores.keys.getSessionKey(k.recipientSessionKeyId, this.clock.now());
        if (!ownKey) {
          throw new InvalidParcelError(
            `Payload uses session key ${k.recipientSessionKeyId.toString('hex')}, unknown or expired`,
          );
        }
        if (ownKey.peerId !== null && ownKey.peerId !== senderId) {
          throw new InvalidParcelError(
            `Payload uses session key ${k.recipientSessionKeyId.toString('hex')}, which was given to another peer`,
          );
        }
        return ownKey.privateKey;
      });
    } catch (error) {
      if (error instanceof InvalidParcelError) throw error;
      // A core error (malformed EnvelopedData or plaintext, wrong key) is permanent; anything else (a
      // store failing) is not, and is rethrown as is.
      if (isCoreError(error)) {
        throw new InvalidParcelError(`Payload does not decrypt: ${error.message}`, { cause: error });
      }
      throw error;
    }
    const peerSessionKey = unwrapped.senderSessionKey;
    const stored = peerSessionKey
      ? this.stores.peerSessionKeys.saveIfNewer(senderId, {
          sessionKey: peerSessionKey,
          creationDate: parcel.creationDate,
        })
      : Promise.resolve(false);
    stored.catch(() => undefined); // the caller awaits it; not an unhandled rejection if it fails first
    return {
      message: unwrapped.payload,
      kind: kind!.kind,
      ownSessionKeyId: kind!.kind === 'session' ? kind!.recipientSessionKeyId : null,
      peerSessionKey,
      peerSessionKeyStored: stored,
    };
  }

  /**
   * Our current initial session key (for the connection parameters), generating one when there is none
   * or the current one is older than `rotateAfterMs`. Older initial keys stay until they expire.
   */
  async getOrCreateInitialSessionKey(rotateAfterMs: number): Promise<OwnSessionKey> {
    const now = this.clock.now();
    const current = await this.stores.keys.getLatestInitialSessionKey(now);
    if (current && now.getTime() - current.creationDate.getTime() < rotateAfterMs) return current;
    return this.createInitialSessionKey();
  }

  async createInitialSessionKey(): Promise<OwnSessionKey> {
    const now = this.clock.now();
    const { sessionKey, privateKey } = await generateSessionKeyPair();
    const key: OwnSessionKey = {
      keyId: sessionKey.keyId,
      privateKey,
      peerId: null,
      creationDate: now,
      expiryDate: new Date(now.getTime() + this.sessionKeyLifetimeMs),
    };
    await this.stores.keys.saveSessionKey(key);
    return key;
  }

  async deleteExpiredKeys(): Promise<number> {
    return this.stores.keys.deleteExpiredSessionKeys(this.clock.now());
  }
}

export function newMessageId(): string {
  return randomUUID();
}
