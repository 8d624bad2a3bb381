import type { Certificate } from '@twitter-relaynet/core';

/**
 * Storage interfaces of the gateway. Every mutating method resolves only once the change is
 * durable (for SQLite: committed with WAL and synchronous=FULL), so a caller may acknowledge a
 * message as soon as `put` resolves. Every implementation must pass `conformance.spec.ts`.
 */

/**
 * Which queue a parcel is in. A parcel is in exactly one queue at a gateway:
 * - `local`: at the user gateway, waiting for collection by a local endpoint (by recipient id);
 * - `peer:<gateway id>`: waiting to go out in cargo to that gateway;
 * - `internet`: at the relaying gateway, waiting for delivery to a public endpoint over PogRPC.
 */
export type QueueName = string;

export const LOCAL_QUEUE: QueueName = 'local';
export const INTERNET_QUEUE: QueueName = 'internet';
export function peerQueue(gatewayId: string): QueueName {
  return `peer:${gatewayId}`;
}

/** A parcel's identity in a queue: the same (sender id, message id) replaces the queued copy. */
export interface ParcelKey {
  readonly queue: QueueName;
  readonly senderId: string;
  readonly id: string;
}

export interface NewParcelRecord extends ParcelKey {
  readonly recipientId: string;
  readonly recipientInternetAddress: string | null;
  readonly expiryDate: Date;
  /** The parcel exactly as received (RAMF serialization). */
  readonly serialized: Buffer;
}

export interface ParcelRecord extends NewParcelRecord {
  /** Earliest date of the next delivery attempt (used by delivery queues; epoch otherwise). */
  readonly nextAttemptDate: Date;
  /** Delivery attempts so far (claims). */
  readonly attempts: number;
}

export interface ParcelListOptions {
  /** Parcels that expired before this date are skipped. */
  readonly now: Date;
  /** Only parcels for this recipient id. */
  readonly recipientId?: string;
  /** How many records to read at once (an implementation detail; the listing is lazy). */
  readonly pageSize?: number;
}

export interface ParcelStore {
  /** Store a parcel durably; the same key replaces the queued copy. */
  put(parcel: NewParcelRecord): Promise<'stored' | 'replaced'>;
  get(key: ParcelKey): Promise<ParcelRecord | null>;
  /** Resolves to whether there was such a parcel. */
  delete(key: ParcelKey): Promise<boolean>;
  /** Unexpired parcels of a queue, oldest first, read lazily page by page. */
  list(queue: QueueName, options: ParcelListOptions): AsyncIterable<ParcelRecord>;
  /**
   * Claim the unexpired parcel of `queue` that has been due the longest (nextAttemptDate ≤ now):
   * atomically set its nextAttemptDate to `leaseUntil` and count an attempt, so that a crash
   * between claim and outcome leads to a retry, and two claims never return the same parcel.
   */
  claimNextDue(queue: QueueName, now: Date, leaseUntil: Date): Promise<ParcelRecord | null>;
  /**
   * `claimNextDue` for up to `limit` parcels at once, in one transaction (one commit for a whole
   * delivery round): the due parcels in the order `claimNextDue` would hand them out.
   */
  claimDue(queue: QueueName, now: Date, leaseUntil: Date, limit: number): Promise<ParcelRecord[]>;
  /** Set the next attempt date (after a failed delivery). */
  reschedule(key: ParcelKey, nextAttemptDate: Date): Promise<boolean>;
  /**
   * Make every parcel of `queue` due at `now` whose next attempt is later (leases and backoffs of a
   * previous run), in one statement; resolves to how many.
   */
  releaseLeases(queue: QueueName, now: Date): Promise<number>;
  /**
   * Move every parcel of `from` into `to`, the moved ones in their order (a parcel whose key `to`
   * already holds is dropped: the copy in `to` arrived later); resolves to how many moved.
   */
  moveQueue(from: QueueName, to: QueueName): Promise<number>;
  /** Delete every parcel that expired before `now`; resolves to how many. */
  purgeExpired(now: Date): Promise<number>;
  count(queue?: QueueName): Promise<number>;
}

/**
 * Ids remembered until they expire: used CCA ids (never accept a CCA twice) and parcels already
 * delivered (so a parcel that comes again is acknowledged, not delivered twice).
 */
export interface IdLedger {
  /** Remember `id`; resolves to false if it was already there (nothing changes then). */
  record(namespace: string, id: string, expiryDate: Date): Promise<boolean>;
  has(namespace: string, id: string): Promise<boolean>;
  purgeExpired(now: Date): Promise<number>;
}

/** The ledger of used CCAs is an `IdLedger` (namespace `cca`). */
export type CcaLedger = IdLedger;

/** A parcel collection acknowledgement waiting to go to a peer gateway in cargo. */
export interface PendingPca {
  readonly peerId: string;
  readonly senderEndpointId: string;
  readonly recipientEndpointId: string;
  readonly parcelId: string;
  /** The acknowledged parcel's expiry: after it, the peer has purged its copy anyway. */
  readonly expiryDate: Date;
}

export interface PcaQueue {
  /** Queue a PCA durably; the same (peer, sender endpoint id, parcel id) replaces it. */
  put(pca: PendingPca): Promise<void>;
  /** Unexpired PCAs for a peer, oldest first, read lazily. */
  list(peerId: string, now: Date): AsyncIterable<PendingPca>;
  delete(peerId: string, senderEndpointId: string, parcelId: string): Promise<boolean>;
  purgeExpired(now: Date): Promise<number>;
  count(peerId?: string): Promise<number>;
}

/**
 * Certificates this gateway issued, by subject id: the user gateway's endpoints, or the relaying
 * gateway's registered user gateways.
 */
export interface CertificateRegistry {
  put(certificate: Certificate): Promise<void>;
  get(subjectId: string): Promise<Certificate | null>;
  delete(subjectId: string): Promise<boolean>;
  list(): Promise<Certificate[]>;
}

/**
 * A user gateway's registration with its relaying gateway: the relaying gateway's certificate, pinned
 * on first sight, and, once registered, ours as it issued it.
 */
export interface RegistrationRecord {
  readonly relayingGatewayCertificate: Certificate;
  /** Null until the registration completes. */
  readonly userGatewayCertificate: Certificate | null;
}

/** Where a user gateway keeps its registration (one per gateway). */
export interface RegistrationStore {
  get(): Promise<RegistrationRecord | null>;
  /**
   * Replace the record and, in the same transaction, move the parcels of `move.from` into `move.to`
   * (`ParcelStore.moveQueue`): either both happen or neither. Resolves to how many parcels moved.
   */
  save(record: RegistrationRecord, move?: { readonly from: QueueName; readonly to: QueueName }): Promise<number>;
}

/**
 * The answers a relaying gateway gave to courier registration requests, by the request's digest (hex SHA-256; see
 * courierRegistration.ts): kept with the queues, so that every instance over the same stores answers a request the
 * same way.
 */
export interface CourierAnswerStore {
  get(requestDigest: string): Promise<Buffer | null>;
  /**
   * Keep `response` as the answer to `requestDigest` unless an answer is kept already (say, another instance's, to
   * the same request at the same moment): resolves to the answer kept, the first one.
   */
  keep(requestDigest: string, response: Buffer, expiryDate: Date): Promise<Buffer>;
  /** Forget answers that expired before `now`; resolves to how many. */
  purgeExpired(now: Date): Promise<number>;
}

/** An id in an `IdLedger` namespace. */
export interface LedgerKey {
  readonly namespace: string;
  readonly id: string;
}

/** One write of a batch (see `GatewayStores.writeBatch`). */
export type StoreWrite =
  | {
      readonly kind: 'put parcel';
      readonly parcel: NewParcelRecord;
      /**
       * Store nothing if the ledger holds this id (checked in the put's own transaction): a parcel already
       * delivered, whose record another writer (say, another instance) may commit while this put is under way.
       */
      readonly unlessRecorded?: LedgerKey;
    }
  | { readonly kind: 'delete parcel'; readonly key: ParcelKey }
  | { readonly kind: 'reschedule parcel'; readonly key: ParcelKey; readonly nextAttemptDate: Date }
  | { readonly kind: 'put pca'; readonly pca: PendingPca }
  | {
      readonly kind: 'delete pca';
      readonly peerId: string;
      readonly senderEndpointId: string;
      readonly parcelId: string;
    }
  | { readonly kind: 'record id'; readonly namespace: string; readonly id: string; readonly expiryDate: Date };

/**
 * Per write, in order: `put`'s outcome ('already recorded' if its `unlessRecorded` id was in the ledger), the boolean of `delete` (parcel or PCA), `reschedule` and `IdLedger.record`,
 * or undefined for a PCA.
 */
export type StoreWriteResult = 'stored' | 'replaced' | 'already recorded' | boolean | undefined;

/** Everything a gateway keeps. */
export interface GatewayStores {
  readonly parcels: ParcelStore;
  readonly ledger: IdLedger;
  readonly pcas: PcaQueue;
  readonly registry: CertificateRegistry;
  readonly registration: RegistrationStore;
  readonly courierAnswers: CourierAnswerStore;
  /**
   * Apply the writes in order, all or none, durably when it resolves: one commit (one fsync) for
   * a whole cargo, delivery round or group of parcels instead of one per parcel and per PCA.
   */
  writeBatch(writes: readonly StoreWrite[]): Promise<StoreWriteResult[]>;
  close(): Promise<void>;
}
