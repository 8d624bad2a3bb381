/**
 * What an endpoint keeps, behind small interfaces: SQLite implementations for the daemons and apps,
 * in-memory ones for tests. Both pass `test/stores.conformance.spec.ts`.
 *
 * Every method is async so that other back ends fit; the SQLite ones are durable (fsync'd) when they resolve.
 */
import type { KeyObject } from 'node:crypto';

import type { Certificate, SessionKey } from '@twitter-relaynet/core';

/** The endpoint's long-term identity: its RSA key and, once issued, its certificate and the chain above it. */
export interface IdentityRecord {
  readonly privateKey: KeyObject;
  /** Null for a private endpoint that has not registered with its gateway yet. */
  readonly certificate: Certificate | null;
  /** Issuers of `certificate`, nearest first (the private endpoint: [gateway certificate]). */
  readonly certificateChain: readonly Certificate[];
}

/** One of our session (ECDH) key pairs, by id (RS-003). */
export interface OwnSessionKey {
  readonly keyId: Buffer;
  readonly privateKey: KeyObject;
  /** The peer this key was sent to; null for an initial key anybody may use (published in connection parameters). */
  readonly peerId: string | null;
  readonly creationDate: Date;
  /** Kept (to decrypt late messages) until then. */
  readonly expiryDate: Date;
}

export interface KeyStore {
  getIdentity(): Promise<IdentityRecord | null>;
  saveIdentity(identity: IdentityRecord): Promise<void>;

  saveSessionKey(key: OwnSessionKey): Promise<void>;
  /** The key with this id, unless it expired before `now`. */
  getSessionKey(keyId: Buffer, now: Date): Promise<OwnSessionKey | null>;
  /** Our newest unexpired initial key (peerId null). */
  getLatestInitialSessionKey(now: Date): Promise<OwnSessionKey | null>;
  /** Deletes keys that expired before `now`; returns how many. */
  deleteExpiredSessionKeys(now: Date): Promise<number>;
}

export interface PeerSessionKeyRecord {
  readonly sessionKey: SessionKey;
  /** When the peer created it (the creation date of the message that carried it, or of the published key). */
  readonly creationDate: Date;
}

/** The latest session key of each peer. */
export interface PeerSessionKeyStore {
  get(peerId: string): Promise<PeerSessionKeyRecord | null>;
  /**
   * Stores `record` unless a newer key is already known (messages arrive out of order). Dates are compared
   * at one-second resolution (RAMF's); on a tie the later arrival wins. Returns whether it was stored.
   */
  saveIfNewer(peerId: string, record: PeerSessionKeyRecord): Promise<boolean>;
  delete(peerId: string): Promise<void>;
}

/** (sender id, message id) of the messages already handled, until they expire (RS-001 replay protection). */
export interface DedupLedger {
  has(senderId: string, messageId: string, now: Date): Promise<boolean>;
  record(senderId: string, messageId: string, expiryDate: Date): Promise<void>;
  deleteExpired(now: Date): Promise<number>;
}

/** A parcel waiting to be delivered (acknowledged) to a gateway. */
export interface OutboxEntry {
  /** The parcel id: unique in the outbox (it is ours). */
  readonly parcelId: string;
  readonly recipientId: string;
  /** The return address of the gateway that brought us the recipient's messages (routing hint), if any. */
  readonly gatewayAddress: string | null;
  readonly parcel: Buffer;
  readonly expiryDate: Date;
  readonly nextAttemptDate: Date;
  readonly attempts: number;
}

export interface Outbox {
  /** Adds an entry; an entry with the same parcel id is replaced. */
  add(entry: OutboxEntry): Promise<void>;
  /** Unexpired entries due at `now`, oldest due first. */
  listDue(now: Date, limit: number): Promise<OutboxEntry[]>;
  /** When the earliest entry is due (null when the outbox is empty); expired entries count until `deleteExpired`. */
  nextAttemptDate(): Promise<Date | null>;
  reschedule(parcelId: string, nextAttemptDate: Date, attempts: number): Promise<void>;
  delete(parcelId: string): Promise<void>;
  /** Deletes every entry listed (ids not there are ignored) in one commit: a delivery's acks at once. */
  deleteMany(parcelIds: readonly string[]): Promise<void>;
  /** Removes and returns the entries that expired before `now`. */
  deleteExpired(now: Date): Promise<OutboxEntry[]>;
  count(): Promise<number>;
}

export interface EndpointStores {
  readonly keys: KeyStore;
  readonly peerSessionKeys: PeerSessionKeyStore;
  readonly dedup: DedupLedger;
  readonly outbox: Outbox;
  close(): Promise<void>;
}
