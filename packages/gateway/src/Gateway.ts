import type { KeyObject } from 'node:crypto';

import {
  type BatchItem,
  type MessageBatch,
  batchMessages,
  Cargo,
  type Certificate,
  DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS,
  describeMessageType,
  encryptPayload,
  errorMessage,
  GroupCommitter,
  type Logger,
  MAX_SDU_PLAINTEXT_LENGTH,
  MAX_TTL_SECONDS,
  MessageType,
  Parcel,
  ParcelCollectionAck,
  readMessageType,
  readStoredRamfFields,
  type Recipient,
  RelaynetError,
  silentLogger,
} from '@twitter-relaynet/core';

import { type Clock, systemClock } from './clock';
import { findFutureDatedParcels, type FutureDatedCargo } from './clockSkew';
import { CargoRefusedError, ParcelRefusedError } from './errors';
import {
  type GatewayStores,
  type NewParcelRecord,
  type ParcelKey,
  type PendingPca,
  peerQueue,
  type StoreWrite,
  type StoreWriteResult,
} from './stores/types';

/** Cargo is backdated this much, as the reference implementation does, to absorb clock drift. */
export const CARGO_BACKDATING_MS = 3 * 60 * 60 * 1000;

/** Ledger namespace of parcels already delivered from a queue (`delivered:<queue>`). */
const DELIVERED_NAMESPACE = 'delivered:';

export interface GatewayIdentity {
  readonly privateKey: KeyObject;
  readonly certificate: Certificate;
}

export interface GatewayOptions {
  readonly identity: GatewayIdentity;
  readonly stores: GatewayStores;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Largest cargo message set (plaintext); defaults to the protocol maximum. */
  readonly maxCargoSetLength?: number;
  /** How far in the future a peer's message may be dated (default 2 h). */
  readonly clockDriftToleranceSeconds?: number;
}

export interface GatewayCounters {
  /** Parcels stored (new or replacing a queued copy). */
  parcelsStored: number;
  /** Parcels refused (from an endpoint or in cargo). */
  parcelsRefused: number;
  /** Parcels that came again after delivery: acknowledged again, not stored. */
  duplicatesAcknowledged: number;
  cargoGenerated: number;
  cargoReceived: number;
  cargoRefused: number;
  /** Items in a received cargo that were logged and skipped. */
  itemsSkipped: number;
  /** Parcels in a received cargo left out for their date (not acknowledged; see clockSkew.ts). */
  parcelsLeftOut: number;
  /** Queued parcels held back from a cargo generation for their date (see clockSkew.ts). */
  parcelsHeldBack: number;
  pcasQueued: number;
  pcasSent: number;
  pcasReceived: number;
  /** Expired parcels purged. */
  expiredPurged: number;
}

/** A cargo ready to hand to a relayer. */
export interface OutgoingCargo {
  readonly id: string;
  readonly serialized: Buffer;
  readonly expiryDate: Date;
  readonly parcelCount: number;
  readonly pcaCount: number;
}

/** What a received cargo held (the cargo may be acknowledged to the relayer once this resolves). */
export interface CargoReceipt {
  readonly cargoId: string;
  readonly peerId: string;
  readonly parcelsStored: number;
  readonly duplicatesAcknowledged: number;
  readonly pcasProcessed: number;
  readonly itemsSkipped: number;
  /** Parcels for the gateway itself (ParcelOutcome 'consumed'). */
  readonly parcelsConsumed: number;
  /** Our queued parcels that the peer's PCAs in this cargo acknowledged (and that were deleted). */
  readonly acknowledgedParcels: readonly ParcelKey[];
  /**
   * Parcels left out because they are dated beyond the clock drift tolerance (not stored, not
   * acknowledged: the peer sends them again; see clockSkew.ts), or null.
   */
  readonly futureDated: FutureDatedCargo | null;
}

/** Who a cargo generation is for, and how to sign and encrypt it. */
export interface CargoDestination {
  readonly peerId: string;
  readonly recipient: Recipient;
  readonly encryptionCertificate: Certificate;
  readonly signerCertificate: Certificate;
  readonly signerPrivateKey: KeyObject;
  readonly signerChain?: readonly Certificate[];
}

/**
 * How a parcel from cargo was handled. 'consumed': it was for the gateway itself (a notice from its
 * peer), read and not stored.
 */
export type ParcelOutcome = 'stored' | 'replaced' | 'already delivered' | 'consumed';

export interface ParcelAcceptance {
  readonly key: ParcelKey;
  readonly outcome: ParcelOutcome;
}

/** What both gateways share: durable queues, cargo in and out, PCAs, expiry. */
export abstract class Gateway {
  readonly id: string;
  readonly counters: GatewayCounters = {
    parcelsStored: 0,
    parcelsRefused: 0,
    duplicatesAcknowledged: 0,
    cargoGenerated: 0,
    cargoReceived: 0,
    cargoRefused: 0,
    itemsSkipped: 0,
    parcelsLeftOut: 0,
    parcelsHeldBack: 0,
    pcasQueued: 0,
    pcasSent: 0,
    pcasReceived: 0,
    expiredPurged: 0,
  };

  protected readonly identity: GatewayIdentity;
  protected readonly stores: GatewayStores;
  protected readonly clock: Clock;
  protected readonly logger: Logger;
  protected readonly maxCargoSetLength: number;
  protected readonly clockDriftToleranceSeconds: number | undefined;
  /**
   * Single writes that arrive while a commit is pending (parcels and acknowledgements from many
   * connections) share one transaction; each resolves once its own is durable.
   */
  protected readonly groupCommit: GroupCommitter<StoreWrite, StoreWriteResult>;

  protected constructor(options: GatewayOptions) {
    this.identity = options.identity;
    this.stores = options.stores;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.maxCargoSetLength = options.maxCargoSetLength ?? MAX_SDU_PLAINTEXT_LENGTH;
    this.clockDriftToleranceSeconds = options.clockDriftToleranceSeconds;
    this.id = options.identity.certificate.calculateSubjectId();
    this.groupCommit = new GroupCommitter((writes) => this.stores.writeBatch(writes));
  }

  get certificate(): Certificate {
    return this.identity.certificate;
  }

  /** Delete expired parcels, PCAs and ledger entries. Daemons call this periodically. */
  async purgeExpired(): Promise<{ parcels: number; pcas: number; ledgerEntries: number }> {
    const now = this.clock.now();
    const parcels = await this.stores.parcels.purgeExpired(now);
    const pcas = await this.stores.pcas.purgeExpired(now);
    const ledgerEntries = await this.stores.ledger.purgeExpired(now);
    this.counters.expiredPurged += parcels;
    if (parcels + pcas + ledgerEntries > 0) {
      this.logger.info(
        { expiredParcels: parcels, expiredPcas: pcas, expiredLedgerEntries: ledgerEntries },
        `Purged ${parcels} expired parcel(s)`,
      );
    }
    return { parcels, pcas, ledgerEntries };
  }

  protected validationOptions() {
    return { now: this.clock.now(), clockDriftToleranceSeconds: this.clockDriftToleranceSeconds };
  }

  protected get toleranceSeconds(): number {
    return this.clockDriftToleranceSeconds ?? DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS;
  }

  // -------------------------------------------------------------------------------------------
  // Parcels

  /** With `batch` (a cargo's writes), the parcel is only queued for that batch's commit. */
  protected async storeParcel(
    parcel: Parcel,
    serialized: Buffer,
    queue: string,
    batch?: StoreWrite[],
  ): Promise<ParcelAcceptance> {
    const record: NewParcelRecord = {
      queue,
      senderId: parcel.senderCertificate.calculateSubjectId(),
      id: parcel.id,
      recipientId: parcel.recipient.id,
      recipientInternetAddress: parcel.recipient.internetAddress ?? null,
      expiryDate: parcel.expiryDate,
      serialized,
    };
    const key = { queue, senderId: record.senderId, id: record.id };
    // The put's own transaction checks the ledger (another instance over the same database may record the
    // delivery at any time).
    const delivered = deliveredLedgerKey(key);
    const write: StoreWrite = { kind: 'put parcel', parcel: record, unlessRecorded: delivered };
    if (batch) {
      // Within a cargo: written with the rest of the cargo in one commit, whose results tell a parcel already
      // delivered (see receiveCargo). Not looked up first: a lookup per parcel, one after the other, cost more
      // than the rare duplicate's write.
      batch.push(write);
      return { key, outcome: 'stored' };
    }
    // Checked here too, to spare a duplicate the write.
    if (await this.stores.ledger.has(delivered.namespace, delivered.id)) return this.alreadyDelivered(key);
    // Parcels arriving one by one (from endpoints over PoWebSocket, say) are committed in groups.
    const [result] = await this.groupCommit.submit([write]);
    if (result === 'already recorded') return this.alreadyDelivered(key);
    const outcome = result === 'replaced' ? 'replaced' : 'stored';
    this.counters.parcelsStored += 1;
    this.logger.info(
      { parcelId: parcel.id, senderId: record.senderId, recipientId: record.recipientId, queue, outcome },
      outcome === 'stored' ? 'Parcel stored' : 'Parcel replaced its queued copy',
    );
    return { key, outcome };
  }

  private alreadyDelivered(key: ParcelKey): ParcelAcceptance {
    this.counters.duplicatesAcknowledged += 1;
    this.logger.info(
      { parcelId: key.id, senderId: key.senderId, queue: key.queue },
      'Parcel was already delivered; not storing it again',
    );
    return { key, outcome: 'already delivered' };
  }

  /** Delete a delivered parcel and remember it until it expires, so a resent copy is only acked. */
  protected async forgetDeliveredParcel(key: ParcelKey, expiryDate: Date): Promise<boolean> {
    const [, deleted] = await this.groupCommit.submit(deliveredParcelWrites(key, expiryDate));
    return deleted === true;
  }

  protected refuseParcel(message: string, fields: object, cause?: unknown): never {
    this.counters.parcelsRefused += 1;
    this.logger.warn({ ...fields, reason: message }, 'Parcel refused');
    throw new ParcelRefusedError(message, cause === undefined ? undefined : { cause });
  }

  // -------------------------------------------------------------------------------------------
  // Cargo out

  /**
   * Generate, lazily, the cargoes for a peer: pending PCAs first, then the unexpired parcels of
   * its queue, in as few cargoes as the size limit allows. Parcels stay queued until the peer's
   * PCA comes back, so every generation carries them again; PCAs are dropped once they went out
   * (if that cargo is lost, the peer sends the parcel again and gets a new PCA).
   */
  protected async *generateCargo(
    destination: CargoDestination,
    /** Run first, when the first cargo is asked for. */
    prepare?: () => Promise<void>,
  ): AsyncGenerator<OutgoingCargo> {
    await prepare?.();
    const startedAt = this.clock.now();
    const pcasByMessage = new Map<Buffer, PendingPca>();
    const { parcels, pcas } = this.stores;
    const latestAcceptable = startedAt.getTime() + this.toleranceSeconds * 1000;
    const { logger, counters } = this;

    async function* items(): AsyncGenerator<BatchItem> {
      for await (const pca of pcas.list(destination.peerId, startedAt)) {
        const message = new ParcelCollectionAck(
          pca.senderEndpointId,
          pca.recipientEndpointId,
          pca.parcelId,
        ).serialize();
        pcasByMessage.set(message, pca);
        yield { message, expiryDate: pca.expiryDate };
      }
      const heldBack: { parcelId: string; creationDate: string }[] = [];
      for await (const parcel of parcels.list(peerQueue(destination.peerId), { now: startedAt })) {
        // Dated beyond the tolerance of this very clock: made while it was ahead. A peer whose clock is
        // right would leave it out (clockSkew.ts), so it stays here until its date is acceptable.
        const creationDate = storedCreationDate(parcel.serialized);
        if (creationDate && creationDate.getTime() > latestAcceptable) {
          heldBack.push({ parcelId: parcel.id, creationDate: creationDate.toISOString() });
          continue;
        }
        yield { message: parcel.serialized, expiryDate: parcel.expiryDate };
      }
      if (heldBack.length) {
        counters.parcelsHeldBack += heldBack.length;
        logger.warn(
          { peerId: destination.peerId, heldBack },
          `${heldBack.length} parcel(s) held back from cargo: dated beyond the clock drift tolerance of this ` +
            "gateway's clock (made while it was ahead?); they go once their date is acceptable, or when their " +
            'sender replaces them',
        );
      }
    }

    // Not a for-await loop: that keeps the last batch (~8 MiB of parcels) and its cargo alive while the next are
    // read and sealed. Here each is let go of once passed on, so that a collection holds one cargo's worth at a time.
    const batches = batchMessages(items(), this.maxCargoSetLength);
    try {
      for (;;) {
        let next: IteratorResult<MessageBatch> | null = await batches.next();
        if (next.done) return;
        let cargo: OutgoingCargo | null = await this.sealCargo(next.value, destination, pcasByMessage);
        next = null;
        yield cargo;
        cargo = null;
      }
    } finally {
      // As for-await would: a consumer that stops early stops the store's listing too.
      await batches.return(undefined);
    }
  }

  /** Encrypt, sign and serialize one batch into a cargo; drop the PCAs it carries from the queue. */
  private async sealCargo(
    batch: MessageBatch,
    destination: CargoDestination,
    pcasByMessage: Map<Buffer, PendingPca>,
  ): Promise<OutgoingCargo> {
    const now = this.clock.now();
    const signerStart = destination.signerCertificate.startDate.getTime();
    const creationDate = new Date(Math.max(now.getTime() - CARGO_BACKDATING_MS, signerStart));
    const ttl = Math.min(
      MAX_TTL_SECONDS,
      Math.max(1, Math.ceil((batch.expiryDate.getTime() - creationDate.getTime()) / 1000) + 1),
    );
    const { envelopedData } = await encryptPayload(batch.messageSet.serializeChunks(), {
      certificate: destination.encryptionCertificate,
    });
    const cargo = new Cargo(destination.recipient, destination.signerCertificate, envelopedData, {
      creationDate,
      ttl,
      senderCaCertificateChain: destination.signerChain ?? [],
    });
    const serialized = await cargo.serialize(destination.signerPrivateKey);

    const sentPcas: StoreWrite[] = [];
    for (const message of batch.messageSet.messages) {
      const pca = pcasByMessage.get(message);
      if (!pca) continue;
      pcasByMessage.delete(message);
      sentPcas.push({
        kind: 'delete pca',
        peerId: pca.peerId,
        senderEndpointId: pca.senderEndpointId,
        parcelId: pca.parcelId,
      });
    }
    // One commit for the cargo's PCAs (there can be thousands), not one each.
    if (sentPcas.length) await this.stores.writeBatch(sentPcas);
    const pcaCount = sentPcas.length;
    const parcelCount = batch.messageSet.messages.length - pcaCount;
    this.counters.cargoGenerated += 1;
    this.counters.pcasSent += pcaCount;
    this.logger.info(
      { cargoId: cargo.id, peerId: destination.peerId, parcelCount, pcaCount, octets: serialized.length },
      'Cargo generated',
    );
    return { id: cargo.id, serialized, expiryDate: cargo.expiryDate, parcelCount, pcaCount };
  }

  // -------------------------------------------------------------------------------------------
  // Cargo in

  /**
   * Check that a cargo is from an authorized peer; resolves to the peer's gateway id.
   * @throws CargoRefusedError
   */
  protected abstract authorizeCargo(cargo: Cargo): Promise<string>;

  /** Route one parcel found in cargo from `peerId`. @throws ParcelRefusedError or RelaynetError */
  protected abstract acceptParcelFromCargo(
    parcel: Parcel,
    serialized: Buffer,
    peerId: string,
    batch: StoreWrite[],
  ): Promise<ParcelAcceptance>;

  /**
   * Take a cargo from a relayer: check it, unwrap it, then handle every item on its own (a bad
   * item is logged and skipped). Resolves once everything in it is durably stored: only then may
   * the relayer be told to delete its copy.
   *
   * Parcels dated beyond the clock drift tolerance are left out, unacknowledged (`futureDated` in the
   * receipt; see clockSkew.ts): the rest is taken and the cargo may be acknowledged all the same.
   *
   * @throws CargoRefusedError if the cargo as a whole is unacceptable (refused for good: the relayer
   *   may be told to drop it).
   */
  async receiveCargo(serialized: Buffer): Promise<CargoReceipt> {
    let cargo: Cargo;
    try {
      cargo = await Cargo.deserialize(serialized);
    } catch (error) {
      this.refuseCargo(null, `Cargo is malformed: ${errorMessage(error)}`, error);
    }
    if (cargo.recipient.id !== this.id) {
      this.refuseCargo(cargo.id, `Cargo is addressed to ${cargo.recipient.id}, not to this gateway (${this.id})`);
    }
    const peerId = await this.authorizeCargo(cargo);

    let messages: readonly Buffer[];
    try {
      messages = (await cargo.unwrapPayload(this.identity.privateKey)).payload.messages;
    } catch (error) {
      this.refuseCargo(cargo.id, `Cargo payload cannot be decrypted or parsed: ${errorMessage(error)}`, error);
    }

    // Each item is parsed (and each parcel's signature checked) once, before anything is decided: parcels
    // from a clock too far ahead are left out without a PCA, and the peer sends them again (clockSkew.ts).
    const items = await Promise.all(messages.map((item) => parseCargoItem(item)));
    const now = this.clock.now();
    const toleranceSeconds = this.toleranceSeconds;
    const found = findFutureDatedParcels(
      items.flatMap((item) => (item.kind === 'parcel' ? [item.parcel] : [])),
      now,
      toleranceSeconds,
    );
    const futureDated: FutureDatedCargo | null = found && {
      ...found,
      cargoId: cargo.id,
      peerId,
      now,
      toleranceSeconds,
    };
    const leftOut = new Set<Parcel>(found?.parcels);
    if (futureDated) {
      this.counters.parcelsLeftOut += leftOut.size;
      this.logger.warn(
        { cargoId: cargo.id, peerId, parcelIds: futureDated.parcelIds, latestDate: futureDated.latest.toISOString() },
        'Parcels in cargo left out: dated beyond the clock drift tolerance (not acknowledged: the peer sends them again)',
      );
    }

    let parcelsStored = 0;
    let duplicates = 0;
    let pcasProcessed = 0;
    let itemsSkipped = 0;
    let consumed = 0;
    // Every write the items call for goes into this batch, committed at once below: one fsync per
    // cargo instead of two per parcel. Nothing is written before; a crash before the commit loses
    // the whole cargo, which the relayer still has (it was not acknowledged) and delivers again.
    const writes: StoreWrite[] = [];
    for (const [index, item] of items.entries()) {
      if (item.kind === 'parcel' && leftOut.has(item.parcel)) continue;
      try {
        if (item.kind === 'parcel') {
          const outcome = await this.handleParcelItem(item.parcel, item.serialized, peerId, cargo.id, writes);
          if (outcome === 'already delivered') duplicates += 1;
          else if (outcome === 'consumed') consumed += 1;
          else if (outcome !== null) parcelsStored += 1;
          else itemsSkipped += 1;
        } else if (item.kind === 'pca') {
          await this.handlePcaItem(item.pca, peerId, cargo.id, writes);
          pcasProcessed += 1;
        } else {
          throw item.error;
        }
      } catch (error) {
        itemsSkipped += 1;
        this.counters.itemsSkipped += 1;
        this.logger.warn({ cargoId: cargo.id, peerId, item: index, err: errorMessage(error) }, 'Cargo item skipped');
      }
    }
    const results = await this.stores.writeBatch(writes);
    const acknowledgedParcels: ParcelKey[] = [];
    for (const [index, write] of writes.entries()) {
      if (write.kind === 'put parcel' && results[index] === 'already recorded') {
        // Delivered (by another instance) while this cargo was being taken: acknowledged, not stored again.
        parcelsStored -= 1;
        duplicates += 1;
        this.alreadyDelivered({ queue: write.parcel.queue, senderId: write.parcel.senderId, id: write.parcel.id });
      } else if (write.kind === 'put parcel') {
        const { parcel } = write;
        const outcome = results[index];
        this.counters.parcelsStored += 1;
        this.logger.info(
          {
            cargoId: cargo.id,
            parcelId: parcel.id,
            senderId: parcel.senderId,
            recipientId: parcel.recipientId,
            queue: parcel.queue,
            outcome,
          },
          outcome === 'replaced' ? 'Parcel replaced its queued copy' : 'Parcel stored',
        );
      } else if (write.kind === 'delete parcel' && results[index]) {
        acknowledgedParcels.push(write.key);
        this.logger.info({ cargoId: cargo.id, peerId, parcelId: write.key.id }, 'Parcel acknowledged by peer; deleted');
      } else if (write.kind === 'put pca') {
        this.counters.pcasQueued += 1;
      }
    }
    this.counters.cargoReceived += 1;
    this.logger.info(
      {
        cargoId: cargo.id,
        peerId,
        parcelsStored,
        duplicates,
        pcasProcessed,
        itemsSkipped,
        consumed,
        leftOut: leftOut.size,
      },
      'Cargo received',
    );
    return {
      cargoId: cargo.id,
      peerId,
      parcelsStored,
      duplicatesAcknowledged: duplicates,
      pcasProcessed,
      itemsSkipped,
      parcelsConsumed: consumed,
      acknowledgedParcels,
      futureDated,
    };
  }

  /** Resolves to the outcome, or null if the parcel was refused (and acknowledged as such). */
  private async handleParcelItem(
    parcel: Parcel,
    item: Buffer,
    peerId: string,
    cargoId: string,
    batch: StoreWrite[],
  ): Promise<ParcelOutcome | null> {
    let outcome: ParcelOutcome | null;
    try {
      outcome = (await this.acceptParcelFromCargo(parcel, item, peerId, batch)).outcome;
    } catch (error) {
      if (!(error instanceof RelaynetError)) throw error;
      // Permanently refused and logged: acknowledge it so the peer stops sending it.
      this.counters.itemsSkipped += 1;
      this.logger.warn({ cargoId, peerId, parcelId: parcel.id, err: errorMessage(error) }, 'Parcel in cargo refused');
      outcome = null;
    }
    batch.push({
      kind: 'put pca',
      pca: {
        peerId,
        senderEndpointId: parcel.senderCertificate.calculateSubjectId(),
        recipientEndpointId: parcel.recipient.id,
        parcelId: parcel.id,
        expiryDate: parcel.expiryDate,
      },
    });
    return outcome;
  }

  private async handlePcaItem(
    pca: ParcelCollectionAck,
    peerId: string,
    cargoId: string,
    batch: StoreWrite[],
  ): Promise<void> {
    const key = { queue: peerQueue(peerId), senderId: pca.senderEndpointId, id: pca.parcelId };
    const parcel = await this.stores.parcels.get(key);
    this.counters.pcasReceived += 1;
    if (!parcel || parcel.recipientId !== pca.recipientEndpointId) {
      this.logger.info({ cargoId, peerId, parcelId: pca.parcelId }, 'PCA for a parcel no longer queued');
      return;
    }
    batch.push({ kind: 'delete parcel', key });
  }

  protected refuseCargo(cargoId: string | null, message: string, cause?: unknown): never {
    this.counters.cargoRefused += 1;
    this.logger.warn({ cargoId, reason: message }, 'Cargo refused');
    throw new CargoRefusedError(message, cause === undefined ? undefined : { cause });
  }
}

type CargoItem =
  | { readonly kind: 'parcel'; readonly parcel: Parcel; readonly serialized: Buffer }
  | { readonly kind: 'pca'; readonly pca: ParcelCollectionAck }
  | { readonly kind: 'bad'; readonly error: unknown };

/** A malformed item is kept as its error: the cargo's other items still count (a bad parcel has no id to acknowledge). */
async function parseCargoItem(item: Buffer): Promise<CargoItem> {
  try {
    const type = readMessageType(item);
    if (type === MessageType.PARCEL)
      return { kind: 'parcel', parcel: await Parcel.deserialize(item), serialized: item };
    if (type === MessageType.PARCEL_COLLECTION_ACK) return { kind: 'pca', pca: ParcelCollectionAck.deserialize(item) };
    return { kind: 'bad', error: new CargoRefusedError(`Unexpected ${describeMessageType(type)} in cargo`) };
  } catch (error) {
    return { kind: 'bad', error };
  }
}

/** The creation date of a parcel this gateway stored (checked then), or null if it cannot be read. */
function storedCreationDate(serialized: Buffer): Date | null {
  try {
    return readStoredRamfFields(serialized).creationDate;
  } catch {
    return null;
  }
}

/** Where the ledger remembers a parcel delivered from its queue until it expires. */
function deliveredLedgerKey(key: ParcelKey): { namespace: string; id: string } {
  return { namespace: DELIVERED_NAMESPACE + key.queue, id: `${key.senderId}/${key.id}` };
}

/**
 * Delete a delivered parcel and remember it in the ledger until it expires (what storeParcel looks up),
 * so that a copy coming again is acknowledged without being delivered twice: two writes for one commit.
 */
export function deliveredParcelWrites(key: ParcelKey, expiryDate: Date): StoreWrite[] {
  return [
    { kind: 'record id', ...deliveredLedgerKey(key), expiryDate },
    { kind: 'delete parcel', key },
  ];
}
