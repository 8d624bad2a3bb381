import type { KeyObject } from 'node:crypto';

import {
  AuthorizationError,
  backoffDelay,
  Cargo,
  CargoCollectionAuthorization,
  type Certificate,
  CertificateError,
  encryptPayload,
  errorMessage,
  issueGatewayCertificate,
  Parcel,
  ServiceMessage,
  signSignedData,
  TimingError,
} from '@twitter-relaynet/core';

import { envelopeValidationOptions, type FutureDatedCargo } from './clockSkew';
import {
  CLOCK_SKEW_NOTICE_TTL_SECONDS,
  CLOCK_SKEW_NOTICE_TYPE,
  CLOCK_SKEW_REFUSED_PARCEL_ID,
  CLOCK_SKEW_RESOLVED_PARCEL_ID,
  type ClockSkewNotice,
  serializeClockSkewNotice,
} from './clockSkewNotice';
import {
  CARGO_BACKDATING_MS,
  type CargoReceipt,
  deliveredParcelWrites,
  Gateway,
  type GatewayOptions,
  type OutgoingCargo,
  type ParcelAcceptance,
} from './Gateway';
import {
  CcaRefusedError,
  CcaReusedError,
  CcaTimingError,
  CcaUnauthorizedSenderError,
  CcaWrongRecipientError,
  InvalidCdaError,
  MalformedCcaError,
} from './errors';
import { INTERNET_QUEUE, type ParcelKey, type ParcelRecord, peerQueue, type StoreWrite } from './stores/types';

/** User gateway certificates last 180 days (the RS-002 maximum). */
export const USER_GATEWAY_CERTIFICATE_VALIDITY_MS = 180 * 24 * 60 * 60 * 1000;
/** How long a delivery attempt may take before the parcel is due again. */
export const DEFAULT_DELIVERY_LEASE_MS = 5 * 60 * 1000;
const CCA_LEDGER_NAMESPACE = 'cca';
/** CCAs whose collection was cut off before its cargo was all acknowledged: each may be presented once more. */
const CCA_INTERRUPTED_NAMESPACE = 'cca-interrupted';
/** CCAs presented that once more: spent for good. */
const CCA_RETRY_NAMESPACE = 'cca-retry';

/** Delay before the next delivery attempt: 5 s, doubling per attempt, at most 1 hour. */
export function deliveryBackoffMs(attempts: number): number {
  return backoffDelay(attempts, { initialDelayMs: 5_000, maxDelayMs: 60 * 60 * 1000 });
}

export interface RelayingGatewayOptions extends GatewayOptions {
  readonly deliveryLeaseMs?: number;
}

/** A CCA that passed every check: the cargo for its user gateway may be generated. */
export interface CargoCollection {
  readonly ccaId: string;
  readonly userGatewayId: string;
  /** The cargoes, generated lazily, signed with the CDA and encrypted for the user gateway. */
  readonly cargoes: AsyncGenerator<OutgoingCargo>;
  /** This is the CCA's second presentation, after its first collection was cut off (see `interrupted`). */
  readonly retry: boolean;
  /**
   * Say that the collection ended before the courier acknowledged all its cargo (and before it was told "done"):
   * RS-000's cargo relay rules have the client resend a CCA once when no "done" came, so the CCA may be presented
   * once more, to any instance over these stores (one of them serves it). A retry cut off in turn spends it. The
   * parcels stay queued either way (they leave only with the peer's PCA), so the next CCA carries them too.
   */
  interrupted(): Promise<void>;
}

/**
 * The relaying (Internet) gateway. Serves several user gateways, whose certificates it issued
 * and keeps in its stores' `registry`; routes parcels from their cargo to the Internet (PogRPC
 * delivery queue) and parcels from the Internet to the cargo queue of the right user gateway.
 */
export class RelayingGateway extends Gateway {
  private readonly deliveryLeaseMs: number;
  /** The registered certificate of each cargo's sender, by the cargo's batch of writes (see acceptParcelFromCargo). */
  private readonly cargoSenders = new WeakMap<StoreWrite[], Promise<Certificate | null>>();

  constructor(options: RelayingGatewayOptions) {
    super(options);
    this.deliveryLeaseMs = options.deliveryLeaseMs ?? DEFAULT_DELIVERY_LEASE_MS;
  }

  // -------------------------------------------------------------------------------------------
  // Registration

  /** Issue a user gateway's certificate (180 days, capped by our own) and register it. */
  async registerUserGateway(userGatewayPublicKey: KeyObject): Promise<Certificate> {
    const now = this.clock.now().getTime();
    const own = this.identity.certificate;
    const certificate = await issueGatewayCertificate({
      subjectPublicKey: userGatewayPublicKey,
      issuerPrivateKey: this.identity.privateKey,
      issuerCertificate: own,
      // Backdated like cargo, so the user gateway's backdated messages fall inside it.
      validityStartDate: new Date(Math.max(now - CARGO_BACKDATING_MS, own.startDate.getTime())),
      validityEndDate: new Date(Math.min(now + USER_GATEWAY_CERTIFICATE_VALIDITY_MS, own.expiryDate.getTime())),
    });
    await this.stores.registry.put(certificate);
    this.logger.info({ userGatewayId: certificate.calculateSubjectId() }, 'User gateway registered');
    return certificate;
  }

  /** A CMS SignedData of `plaintext` by this gateway, its certificate attached (courier registration responses). */
  signWithIdentity(plaintext: Buffer): Promise<Buffer> {
    return signSignedData(plaintext, this.identity.privateKey, this.identity.certificate);
  }

  async getUserGatewayCertificate(userGatewayId: string): Promise<Certificate | null> {
    return this.stores.registry.get(userGatewayId);
  }

  // -------------------------------------------------------------------------------------------
  // Cargo collection

  /**
   * Check a CCA and, if it passes, record it as used and return the cargo generation for its
   * user gateway. Each refusal is a specific CcaRefusedError subclass.
   */
  async collectCargo(ccaSerialized: Buffer): Promise<CargoCollection> {
    try {
      return await this.authorizeCollection(ccaSerialized);
    } catch (error) {
      // Anything else (the stores failing, say) is no refusal: the caller reports it, once for an outage.
      if (error instanceof CcaRefusedError) {
        this.logger.warn({ err: errorMessage(error), refusal: error.name }, 'CCA refused');
      }
      throw error;
    }
  }

  private async authorizeCollection(ccaSerialized: Buffer): Promise<CargoCollection> {
    let cca: CargoCollectionAuthorization;
    try {
      cca = await CargoCollectionAuthorization.deserialize(ccaSerialized);
    } catch (error) {
      throw new MalformedCcaError(`CCA is malformed or its signature is invalid: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    if (cca.recipient.id !== this.id) {
      throw new CcaWrongRecipientError(`CCA is addressed to ${cca.recipient.id}, not to this gateway (${this.id})`);
    }
    const senderId = cca.senderCertificate.calculateSubjectId();
    let path: Certificate[] | null;
    try {
      // A CCA dated ahead of this clock is honoured (clockSkew.ts): it is how the word that the user's
      // clock is ahead gets back to the user; a spent or expired one is not.
      path = await cca.validate([this.identity.certificate], envelopeValidationOptions(this.clock.now()));
    } catch (error) {
      if (error instanceof TimingError) {
        throw new CcaTimingError(`CCA ${cca.id} is not valid now: ${error.message}`, { cause: error });
      }
      if (error instanceof AuthorizationError || error instanceof CertificateError) {
        throw new CcaUnauthorizedSenderError(
          `CCA sender ${senderId} is not a user gateway registered here: ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    }
    const registered = await this.stores.registry.get(senderId);
    if (!path || path.length !== 2 || !registered) {
      throw new CcaUnauthorizedSenderError(`CCA sender ${senderId} is not a user gateway registered here`);
    }

    let cda: Certificate;
    try {
      cda = (await cca.unwrapPayload(this.identity.privateKey)).payload.cargoDeliveryAuthorization;
    } catch (error) {
      throw new MalformedCcaError(`CCA payload cannot be decrypted or parsed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    const now = this.clock.now();
    if (
      cda.calculateSubjectId() !== this.id ||
      cda.isCA ||
      !(await cda.isIssuedBy(cca.senderCertificate)) ||
      cda.expiryDate <= now
    ) {
      throw new InvalidCdaError(
        `CCA ${cca.id} carries no valid cargo delivery authorization from ${senderId} for this gateway`,
      );
    }

    const ledgerId = `${senderId}/${cca.id}`;
    const { ledger } = this.stores;
    let retry = false;
    if (!(await ledger.record(CCA_LEDGER_NAMESPACE, ledgerId, cca.expiryDate))) {
      // Used before: again only if that collection was cut off, and then by one caller, once (unique ledger ids).
      retry =
        (await ledger.has(CCA_INTERRUPTED_NAMESPACE, ledgerId)) &&
        (await ledger.record(CCA_RETRY_NAMESPACE, ledgerId, cca.expiryDate));
      if (!retry) throw new CcaReusedError(`CCA ${cca.id} from ${senderId} was already used`);
    }
    this.logger.info(
      { ccaId: cca.id, userGatewayId: senderId, ...(retry ? { retry } : {}) },
      retry ? 'CCA accepted again: its first collection was cut off' : 'CCA accepted',
    );
    const cargoes = this.generateCargo({
      peerId: senderId,
      recipient: { id: senderId },
      encryptionCertificate: cca.senderCertificate,
      signerCertificate: cda,
      signerPrivateKey: this.identity.privateKey,
    });
    return {
      ccaId: cca.id,
      userGatewayId: senderId,
      cargoes,
      retry,
      interrupted: async () => {
        if (retry) return; // the CCA's last chance is gone
        await ledger.record(CCA_INTERRUPTED_NAMESPACE, ledgerId, cca.expiryDate);
        this.logger.info(
          { ccaId: cca.id, userGatewayId: senderId },
          'CCA collection cut off: it may be presented once more',
        );
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Cargo from user gateways, and the user's clock

  /**
   * Take a cargo from a user gateway (see Gateway.receiveCargo). If parcels in it were left out for
   * being dated beyond the clock drift tolerance, the user gateway is sent a clock skew notice: the
   * user's computer is ahead, and only this side can tell. The first cargo taken whole after that sends
   * a "resolved" notice.
   */
  override async receiveCargo(serialized: Buffer): Promise<CargoReceipt> {
    const receipt = await super.receiveCargo(serialized);
    if (receipt.futureDated) await this.noticeRefusal(receipt.futureDated);
    else await this.noticeResolution(receipt);
    return receipt;
  }

  private async noticeRefusal(refusal: FutureDatedCargo): Promise<void> {
    await this.stores.parcels.delete(this.noticeKey(refusal.peerId, CLOCK_SKEW_RESOLVED_PARCEL_ID));
    await this.queueNotice(refusal.peerId, CLOCK_SKEW_REFUSED_PARCEL_ID, {
      status: 'refused',
      at: refusal.now,
      aheadMs: Math.max(1, Math.round(refusal.aheadMs)),
      parcelCount: refusal.parcelIds.length,
      toleranceSeconds: refusal.toleranceSeconds,
    });
  }

  /**
   * A cargo was taken whole: if a "refused" notice was queued (or its PCA came in this very cargo), the
   * clocks agree again: say so.
   */
  private async noticeResolution(receipt: CargoReceipt): Promise<void> {
    const refusedKey = this.noticeKey(receipt.peerId, CLOCK_SKEW_REFUSED_PARCEL_ID);
    // A read first: this runs for every cargo taken, and must not cost a write when there was no refusal.
    const stillQueued =
      (await this.stores.parcels.get(refusedKey)) !== null && (await this.stores.parcels.delete(refusedKey));
    const acknowledged = receipt.acknowledgedParcels.some(
      (key) => key.senderId === refusedKey.senderId && key.id === refusedKey.id,
    );
    if (!stillQueued && !acknowledged) return;
    await this.queueNotice(receipt.peerId, CLOCK_SKEW_RESOLVED_PARCEL_ID, { status: 'resolved', at: this.clock.now() });
  }

  private async queueNotice(userGatewayId: string, parcelId: string, notice: ClockSkewNotice): Promise<void> {
    const userGateway = await this.stores.registry.get(userGatewayId);
    if (!userGateway) return; // authorizeCargo checked it: only if unregistered meanwhile
    const { envelopedData } = await encryptPayload(
      new ServiceMessage(CLOCK_SKEW_NOTICE_TYPE, serializeClockSkewNotice(notice)).serialize(),
      { certificate: userGateway },
    );
    const parcel = new Parcel({ id: userGatewayId }, this.identity.certificate, envelopedData, {
      id: parcelId,
      creationDate: notice.at,
      ttl: CLOCK_SKEW_NOTICE_TTL_SECONDS,
    });
    await this.storeParcel(parcel, await parcel.serialize(this.identity.privateKey), peerQueue(userGatewayId));
    this.logger.info(
      { userGatewayId, parcelId, status: notice.status },
      'Clock skew notice queued for the user gateway',
    );
  }

  private noticeKey(userGatewayId: string, parcelId: string) {
    return { queue: peerQueue(userGatewayId), senderId: this.id, id: parcelId };
  }

  protected async authorizeCargo(cargo: Cargo): Promise<string> {
    const senderId = cargo.senderCertificate.calculateSubjectId();
    let path: Certificate[] | null = null;
    try {
      path = await cargo.validate([this.identity.certificate], envelopeValidationOptions(this.clock.now()));
    } catch (error) {
      this.refuseCargo(cargo.id, `Cargo sender ${senderId} is not authorized: ${errorMessage(error)}`, error);
    }
    const registered = await this.stores.registry.get(senderId);
    if (!path || path.length !== 2 || !registered) {
      this.refuseCargo(cargo.id, `Cargo sender ${senderId} is not a user gateway registered here`);
    }
    return senderId;
  }

  // -------------------------------------------------------------------------------------------
  // Parcels

  protected async acceptParcelFromCargo(
    parcel: Parcel,
    serialized: Buffer,
    peerId: string,
    batch: StoreWrite[],
  ): Promise<ParcelAcceptance> {
    if (parcel.recipient.internetAddress === undefined) {
      return this.routeToUserGateway(parcel, serialized, batch);
    }
    // Bound for the Internet: the sender must be an endpoint of the user gateway that sent the cargo (looked up
    // once per cargo, not once per parcel).
    let lookup = this.cargoSenders.get(batch);
    if (!lookup) {
      lookup = this.stores.registry.get(peerId);
      this.cargoSenders.set(batch, lookup);
    }
    const userGateway = await lookup;
    await this.validateParcel(parcel, userGateway ? [userGateway] : [], { parcelId: parcel.id });
    return this.storeParcel(parcel, serialized, INTERNET_QUEUE, batch);
  }

  /**
   * Take a parcel from a public endpoint (PogRPC) for a private endpoint: queue it for the user
   * gateway on its PDA's certification path. Resolves once durably stored.
   *
   * Group commit (Gateway.storeParcel): parcels whose checks finish while another's commit is pending,
   * from any PogRPC call (or endpoint), are stored together in one transaction; each call still
   * resolves only after the commit that holds its parcel.
   *
   * @throws ParcelRefusedError
   */
  async receiveParcelFromInternet(serialized: Buffer): Promise<ParcelAcceptance> {
    let parcel: Parcel;
    try {
      parcel = await Parcel.deserialize(serialized);
    } catch (error) {
      this.refuseParcel(`Parcel is malformed: ${errorMessage(error)}`, {}, error);
    }
    if (parcel.recipient.internetAddress !== undefined) {
      this.refuseParcel('Parcels from the Internet must be for private endpoints', { parcelId: parcel.id });
    }
    return this.routeToUserGateway(parcel, serialized);
  }

  private async routeToUserGateway(
    parcel: Parcel,
    serialized: Buffer,
    batch?: StoreWrite[],
  ): Promise<ParcelAcceptance> {
    const fields = { parcelId: parcel.id, recipientId: parcel.recipient.id };
    // PDA → private endpoint certificate → user gateway certificate (issued by us).
    let userGateway: Certificate | null = null;
    for (const certificate of [parcel.senderCertificate, ...parcel.senderCaCertificateChain]) {
      const issuerId = certificate.getIssuerId();
      userGateway = issuerId ? await this.stores.registry.get(issuerId) : null;
      if (userGateway) break;
    }
    if (!userGateway) {
      this.refuseParcel('No registered user gateway on the sender certification path', fields);
    }
    const path = await this.validateParcel(parcel, [userGateway], fields);
    if (path.length < 3) {
      this.refuseParcel('Sender certificate is not a PDA from an endpoint of a user gateway', fields);
    }
    return this.storeParcel(parcel, serialized, peerQueue(userGateway.calculateSubjectId()), batch);
  }

  private async validateParcel(parcel: Parcel, trusted: Certificate[], fields: object): Promise<Certificate[]> {
    try {
      return (await parcel.validate(trusted, this.validationOptions()))!;
    } catch (error) {
      this.refuseParcel(`Parcel is invalid: ${errorMessage(error)}`, fields, error);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Delivery to the Internet (PogRPC client side)

  /** The parcel for the Internet that has been due the longest, or null (see `nextDeliverables`). */
  async nextDeliverable(): Promise<ParcelRecord | null> {
    const [parcel] = await this.nextDeliverables(1);
    return parcel ?? null;
  }

  /**
   * Up to `limit` parcels for the Internet, due the longest first, claimed in one transaction (one
   * commit per delivery round). Each is leased: until `markDelivered`/`markFailed` (or the lease runs
   * out) it is not handed out again.
   */
  async nextDeliverables(limit: number): Promise<ParcelRecord[]> {
    const now = this.clock.now();
    return this.stores.parcels.claimDue(INTERNET_QUEUE, now, new Date(now.getTime() + this.deliveryLeaseMs), limit);
  }

  /** The public endpoint acknowledged the parcel: delete it (and remember it until expiry). */
  async markDelivered(key: Omit<ParcelKey, 'queue'>): Promise<boolean> {
    const parcel = await this.stores.parcels.get({ queue: INTERNET_QUEUE, senderId: key.senderId, id: key.id });
    if (!parcel) return false;
    const [deleted] = await this.markDeliveredBatch([parcel]);
    return deleted;
  }

  /**
   * Public endpoints acknowledged these parcels (as claimed): delete them, and remember each until it
   * expires so that a copy coming again is acknowledged without being delivered twice, all in one
   * commit. Resolves, per parcel, to whether it was still queued.
   */
  async markDeliveredBatch(parcels: readonly DeliveredParcel[]): Promise<boolean[]> {
    const writes = parcels.map((parcel) =>
      deliveredParcelWrites({ queue: INTERNET_QUEUE, senderId: parcel.senderId, id: parcel.id }, parcel.expiryDate),
    );
    const results = writes.length === 0 ? [] : await this.groupCommit.submit(writes.flat());
    let offset = 0;
    // Not logged here: the caller logs each delivery once, with where it went (a line per parcel is CPU per parcel).
    return parcels.map((_, index) => {
      // The deletion is the last write of each parcel's.
      offset += writes[index].length;
      return results[offset - 1] === true;
    });
  }

  /**
   * Nothing is in flight when the only instance starts: what its previous run had claimed is due again now (one
   * statement). Resolves to the number of parcels released. Not for a database that other instances share: their
   * leases stand.
   */
  async releaseDeliveryLeases(): Promise<number> {
    const released = await this.stores.parcels.releaseLeases(INTERNET_QUEUE, this.clock.now());
    if (released > 0) this.logger.info({ parcels: released }, 'Parcels claimed by the previous run are due again');
    return released;
  }

  /**
   * Claimed parcels not tried now (their route failed a moment ago): due again at `until`, in one commit, their
   * attempts unchanged. Resolves, per parcel, to whether it was queued.
   */
  async postponeBatch(parcels: readonly Pick<ParcelRecord, 'senderId' | 'id'>[], until: Date): Promise<boolean[]> {
    if (parcels.length === 0) return [];
    const results = await this.groupCommit.submit(
      parcels.map((parcel): StoreWrite => ({
        kind: 'reschedule parcel',
        key: { queue: INTERNET_QUEUE, senderId: parcel.senderId, id: parcel.id },
        nextAttemptDate: until,
      })),
    );
    return results.map((result) => result === true);
  }

  /** Delivery failed: retry at `retryAt`, or after an exponential backoff by default. */
  async markFailed(key: Omit<ParcelKey, 'queue'>, retryAt?: Date): Promise<boolean> {
    const parcel = await this.stores.parcels.get({ queue: INTERNET_QUEUE, senderId: key.senderId, id: key.id });
    if (!parcel) return false;
    const [rescheduled] = await this.markFailedBatch([parcel], retryAt);
    return rescheduled;
  }

  /**
   * Deliveries failed: reschedule each parcel (as claimed, with its attempts) at `retryAt`, or after
   * its exponential backoff by default, in one commit. Resolves, per parcel, to whether it was queued.
   */
  async markFailedBatch(parcels: readonly FailedParcel[], retryAt?: Date): Promise<boolean[]> {
    const now = this.clock.now().getTime();
    const dates = parcels.map((parcel) => retryAt ?? new Date(now + deliveryBackoffMs(parcel.attempts)));
    const writes = parcels.map((parcel, index): StoreWrite => ({
      kind: 'reschedule parcel',
      key: { queue: INTERNET_QUEUE, senderId: parcel.senderId, id: parcel.id },
      nextAttemptDate: dates[index],
    }));
    const results = writes.length === 0 ? [] : await this.groupCommit.submit(writes);
    return parcels.map((parcel, index) => {
      const rescheduled = results[index] === true;
      if (rescheduled) {
        this.logger.warn(
          {
            parcelId: parcel.id,
            senderId: parcel.senderId,
            attempts: parcel.attempts,
            retryAt: dates[index].toISOString(),
          },
          'Parcel delivery failed; will retry',
        );
      }
      return rescheduled;
    });
  }
}

/** A parcel that a public endpoint acknowledged (what `markDeliveredBatch` needs of its record). */
export type DeliveredParcel = Pick<ParcelRecord, 'senderId' | 'id' | 'expiryDate'>;
/** A parcel whose delivery failed (what `markFailedBatch` needs of its record). */
export type FailedParcel = Pick<ParcelRecord, 'senderId' | 'id' | 'attempts'>;
