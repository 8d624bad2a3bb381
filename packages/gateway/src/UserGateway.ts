import type { KeyObject } from 'node:crypto';

import {
  Cargo,
  CargoCollectionAuthorization,
  CargoCollectionRequest,
  type Certificate,
  encryptPayload,
  errorMessage,
  issueDeliveryAuthorization,
  issueEndpointCertificate,
  MAX_TTL_SECONDS,
  Parcel,
  type Recipient,
} from '@twitter-relaynet/core';

import {
  CARGO_BACKDATING_MS,
  Gateway,
  type GatewayOptions,
  type OutgoingCargo,
  type ParcelAcceptance,
} from './Gateway';
import {
  type ClockSkewNotice,
  CLOCK_SKEW_NOTICE_TYPE,
  MalformedClockSkewNoticeError,
  parseClockSkewNotice,
} from './clockSkewNotice';
import { envelopeValidationOptions } from './clockSkew';
import { LOCAL_QUEUE, type ParcelRecord, peerQueue, type StoreWrite } from './stores/types';

/** CCAs are backdated this much, as the reference implementation does. */
export const CCA_BACKDATING_MS = 90 * 60 * 1000;
/** Default CCA lifetime: how long a courier has to present it. */
export const DEFAULT_CCA_TTL_SECONDS = 14 * 24 * 60 * 60;
/** Endpoint certificates last this long (capped by the gateway's own certificate). */
const ENDPOINT_CERTIFICATE_VALIDITY_MS = 180 * 24 * 60 * 60 * 1000;

export interface RelayingGatewayInfo {
  /** The relaying gateway's (self-issued) certificate, which issued ours. */
  readonly certificate: Certificate;
  /** Its Internet address, when it has one; the PoC topology needs none. */
  readonly internetAddress?: string;
}

/** How long a keep-alive parcel collection waits for news before looking at the queue again. */
export const KEEP_ALIVE_RECHECK_MS = 5_000;

/** A parcel handed out to an endpoint, until it acknowledges it (or not). */
export interface CollectedParcel {
  readonly parcel: Buffer;
  /** The endpoint stored it: delete it. */
  ack(): Promise<void>;
  /** It was not acknowledged (connection ended): hand it out again in this collection. */
  nack(): void;
}

export interface UserGatewayOptions extends GatewayOptions {
  readonly relayingGateway: RelayingGatewayInfo;
  readonly ccaTtlSeconds?: number;
  /**
   * Called with each clock skew notice from the relaying gateway (this computer's clock is ahead), as
   * its cargo is read: before the cargo is committed, so a cargo delivered twice calls it twice.
   */
  readonly onClockSkewNotice?: (notice: ClockSkewNotice) => void;
}

/**
 * The user (private) gateway: on the computer without Internet. Stores the app's parcels for
 * cargo to the relaying gateway, and the parcels from cargo for the app's endpoints.
 *
 * Its stores' `registry` holds the certificates it issued to its endpoints.
 */
export class UserGateway extends Gateway {
  readonly relayingGateway: RelayingGatewayInfo;
  readonly relayingGatewayId: string;
  private readonly ccaTtlSeconds: number;
  private readonly onClockSkewNotice: (notice: ClockSkewNotice) => void;

  constructor(options: UserGatewayOptions) {
    super(options);
    this.onClockSkewNotice = options.onClockSkewNotice ?? (() => undefined);
    this.relayingGateway = options.relayingGateway;
    this.relayingGatewayId = options.relayingGateway.certificate.calculateSubjectId();
    this.ccaTtlSeconds = Math.min(options.ccaTtlSeconds ?? DEFAULT_CCA_TTL_SECONDS, MAX_TTL_SECONDS);
  }

  private get relayingGatewayRecipient(): Recipient {
    const { internetAddress } = this.relayingGateway;
    return internetAddress ? { id: this.relayingGatewayId, internetAddress } : { id: this.relayingGatewayId };
  }

  // -------------------------------------------------------------------------------------------
  // Endpoints

  /** Issue a certificate to a local endpoint (private endpoint registration) and remember it. */
  async registerEndpoint(endpointPublicKey: KeyObject): Promise<Certificate> {
    const now = this.clock.now().getTime();
    const own = this.identity.certificate;
    const certificate = await issueEndpointCertificate({
      subjectPublicKey: endpointPublicKey,
      issuerPrivateKey: this.identity.privateKey,
      issuerCertificate: own,
      validityStartDate: new Date(Math.max(now - CARGO_BACKDATING_MS, own.startDate.getTime())),
      validityEndDate: new Date(Math.min(now + ENDPOINT_CERTIFICATE_VALIDITY_MS, own.expiryDate.getTime())),
    });
    await this.stores.registry.put(certificate);
    this.logger.info({ endpointId: certificate.calculateSubjectId() }, 'Endpoint registered');
    return certificate;
  }

  async getEndpointCertificate(endpointId: string): Promise<Certificate | null> {
    return this.stores.registry.get(endpointId);
  }

  /**
   * Take a parcel from a local endpoint (PoWebSocket). Resolves once it is durably stored: only
   * then may the binding acknowledge it.
   *
   * - to a public endpoint: the sender must be one of our endpoints; queued for cargo;
   * - to one of our own endpoints: the sender must hold its PDA; queued for that endpoint;
   * - to another private endpoint: queued for cargo (the relaying gateway checks its PDA).
   *
   * @throws ParcelRefusedError
   */
  async receiveParcelFromEndpoint(serialized: Buffer): Promise<ParcelAcceptance> {
    let parcel: Parcel;
    try {
      parcel = await Parcel.deserialize(serialized);
    } catch (error) {
      this.refuseParcel(`Parcel is malformed: ${errorMessage(error)}`, {}, error);
    }
    const fields = { parcelId: parcel.id, recipientId: parcel.recipient.id };
    if (parcel.recipient.internetAddress === undefined) {
      const localEndpoint = await this.stores.registry.get(parcel.recipient.id);
      if (localEndpoint) {
        await this.validateParcel(parcel, [localEndpoint], fields);
        return this.storeParcel(parcel, serialized, LOCAL_QUEUE);
      }
      await this.validateParcel(parcel, null, fields);
    } else {
      await this.validateParcel(parcel, [this.identity.certificate], fields);
    }
    return this.storeParcel(parcel, serialized, peerQueue(this.relayingGatewayId));
  }

  /** Unexpired parcels for one endpoint, oldest first (never another endpoint's). */
  listParcelsForEndpoint(endpointId: string): AsyncIterable<ParcelRecord> {
    return this.stores.parcels.list(LOCAL_QUEUE, { now: this.clock.now(), recipientId: endpointId });
  }

  /**
   * A parcel collection by endpoints (PoWebSocket): the parcels for `endpointIds`, each handed out once per
   * collection, with `ack` deleting it once the endpoint stored it and `nack` handing it out again. With
   * `keepAlive`, the collection goes on, yielding parcels as they arrive (`waitForParcels`, or every `recheckMs`),
   * until `signal` aborts.
   */
  async *collectParcels(
    endpointIds: readonly string[],
    options: {
      readonly signal: AbortSignal;
      readonly keepAlive: boolean;
      readonly waitForParcels: (signal: AbortSignal, timeoutMs: number) => Promise<void>;
      readonly recheckMs?: number;
    },
  ): AsyncGenerator<CollectedParcel> {
    const { signal } = options;
    const handedOut = new Set<string>();
    while (!signal.aborted) {
      for (const endpointId of endpointIds) {
        for await (const record of this.listParcelsForEndpoint(endpointId)) {
          if (signal.aborted) return;
          const key = `${record.senderId}\n${record.id}`;
          if (handedOut.has(key)) continue;
          handedOut.add(key);
          yield {
            parcel: record.serialized,
            ack: async () => {
              await this.markParcelCollected(endpointId, record.senderId, record.id);
            },
            nack: () => {
              handedOut.delete(key);
            },
          };
        }
      }
      if (!options.keepAlive || signal.aborted) return;
      await options.waitForParcels(signal, options.recheckMs ?? KEEP_ALIVE_RECHECK_MS);
    }
  }

  /**
   * The endpoint acknowledged a parcel: delete it. Resolves to false if `endpointId` has no
   * such parcel (an endpoint cannot delete another's parcels).
   */
  async markParcelCollected(endpointId: string, senderId: string, parcelId: string): Promise<boolean> {
    const key = { queue: LOCAL_QUEUE, senderId, id: parcelId };
    const parcel = await this.stores.parcels.get(key);
    if (!parcel || parcel.recipientId !== endpointId) return false;
    await this.forgetDeliveredParcel(key, parcel.expiryDate);
    this.logger.info({ parcelId, senderId, endpointId }, 'Parcel collected by endpoint');
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Cargo relay

  /**
   * A fresh CCA for a relayer to present at the relaying gateway: addressed to it, carrying a
   * new CDA (issued to the relaying gateway's key) encrypted for it, backdated 90 minutes.
   */
  async generateCca(): Promise<Buffer> {
    const now = this.clock.now().getTime();
    const own = this.identity.certificate;
    const creationDate = new Date(Math.max(now - CCA_BACKDATING_MS, own.startDate.getTime()));
    const expiry = Math.min(creationDate.getTime() + this.ccaTtlSeconds * 1000, own.expiryDate.getTime());
    const cda = await issueDeliveryAuthorization({
      subjectPublicKey: this.relayingGateway.certificate.publicKey,
      issuerPrivateKey: this.identity.privateKey,
      issuerCertificate: own,
      // The relaying gateway backdates the cargo it signs with the CDA by 3 hours.
      validityStartDate: new Date(Math.max(now - CARGO_BACKDATING_MS, own.startDate.getTime())),
      validityEndDate: new Date(expiry),
    });
    const { envelopedData } = await encryptPayload(new CargoCollectionRequest(cda).serialize(), {
      certificate: this.relayingGateway.certificate,
    });
    const cca = new CargoCollectionAuthorization(this.relayingGatewayRecipient, own, envelopedData, {
      creationDate,
      ttl: Math.max(1, Math.floor((expiry - creationDate.getTime()) / 1000)),
    });
    this.logger.info({ ccaId: cca.id }, 'CCA generated');
    return cca.serialize(this.identity.privateKey);
  }

  /**
   * What a relay collects for the relaying gateway: a fresh CCA first (even if the collection breaks off, the relay
   * can fetch the relaying gateway's cargo for us with it), then our cargo, generated lazily.
   */
  async *collectionForRelayingGateway(): AsyncGenerator<{ readonly cca: Buffer } | { readonly cargo: Buffer }> {
    yield { cca: await this.generateCca() };
    // Not for-await, which would hold each cargo handed on until the next one is made (see generateCargo).
    const cargoes = this.generateCargoForRelayingGateway();
    try {
      for (;;) {
        let next: IteratorResult<OutgoingCargo> | null = await cargoes.next();
        if (next.done) return;
        let item: { readonly cargo: Buffer } | null = { cargo: next.value.serialized };
        next = null;
        yield item;
        item = null;
      }
    } finally {
      await cargoes.return(undefined);
    }
  }

  /** Cargo for the relaying gateway (parcels for it and pending PCAs), generated lazily. */
  generateCargoForRelayingGateway(): AsyncGenerator<OutgoingCargo> {
    // generateCargo's own generator, not one delegating to it (yield*), which would hold each cargo handed on
    // until the next one is made.
    return this.generateCargo(
      {
        peerId: this.relayingGatewayId,
        recipient: this.relayingGatewayRecipient,
        encryptionCertificate: this.relayingGateway.certificate,
        signerCertificate: this.identity.certificate,
        signerPrivateKey: this.identity.privateKey,
      },
      () => this.movePlaceholderQueue(),
    );
  }

  private async movePlaceholderQueue(): Promise<void> {
    if (this.relayingGatewayId === this.id) return;
    // A parcel still in the placeholder queue (userGatewayRegistration.ts), e.g. one whose request was
    // under way while the registration committed, would never go out: move it first.
    const moved = await this.stores.parcels.moveQueue(peerQueue(this.id), peerQueue(this.relayingGatewayId));
    if (moved) this.logger.info({ moved }, 'Parcels left in the placeholder queue moved to the relaying gateway queue');
  }

  protected async authorizeCargo(cargo: Cargo): Promise<string> {
    // The relaying gateway signs with the CDA we issued it: a path to our own certificate.
    try {
      await cargo.validate([this.identity.certificate], envelopeValidationOptions(this.clock.now()));
    } catch (error) {
      this.refuseCargo(cargo.id, `Cargo sender is not authorized: ${errorMessage(error)}`, error);
    }
    const senderId = cargo.senderCertificate.calculateSubjectId();
    if (senderId !== this.relayingGatewayId || cargo.senderCertificate.isCA) {
      this.refuseCargo(
        cargo.id,
        `Cargo must be signed with a CDA issued to the relaying gateway ${this.relayingGatewayId} (got ${senderId})`,
      );
    }
    return this.relayingGatewayId;
  }

  protected async acceptParcelFromCargo(
    parcel: Parcel,
    serialized: Buffer,
    _peerId: string,
    batch: StoreWrite[],
  ): Promise<ParcelAcceptance> {
    const fields = { parcelId: parcel.id, recipientId: parcel.recipient.id };
    if (parcel.recipient.internetAddress !== undefined) {
      this.refuseParcel('Parcel from the relaying gateway is addressed to a public endpoint', fields);
    }
    if (parcel.recipient.id === this.id) return this.readNoticeFromRelayingGateway(parcel, fields);
    const endpoint = await this.stores.registry.get(parcel.recipient.id);
    if (!endpoint) {
      this.refuseParcel(`Parcel is for ${parcel.recipient.id}, which is not an endpoint of this gateway`, fields);
    }
    // A private endpoint hears only from holders of a PDA it issued.
    await this.validateParcel(parcel, [endpoint], fields);
    return this.storeParcel(parcel, serialized, LOCAL_QUEUE, batch);
  }

  /** A parcel for this gateway itself: only its relaying gateway may send one, and only a notice. */
  private async readNoticeFromRelayingGateway(parcel: Parcel, fields: object): Promise<ParcelAcceptance> {
    // Signed with the very certificate of the relaying gateway (not a PDA: this is no endpoint's parcel);
    // the signature was checked when the parcel was read.
    const senderId = parcel.senderCertificate.calculateSubjectId();
    if (!parcel.senderCertificate.isEqual(this.relayingGateway.certificate)) {
      this.refuseParcel(`Parcel for this gateway from ${senderId}, not from its relaying gateway`, fields);
    }
    await this.validateParcel(parcel, null, fields);
    let notice: ClockSkewNotice;
    try {
      const message = (await parcel.unwrapPayload(this.identity.privateKey)).payload;
      if (message.type !== CLOCK_SKEW_NOTICE_TYPE) {
        throw new MalformedClockSkewNoticeError(`Unknown message type for this gateway: ${message.type}`);
      }
      notice = parseClockSkewNotice(message.content);
    } catch (error) {
      this.refuseParcel(`Parcel for this gateway is unreadable: ${errorMessage(error)}`, fields, error);
    }
    this.logger.info(
      { ...fields, ...notice, at: notice.at.toISOString() },
      'Clock skew notice from the relaying gateway',
    );
    this.onClockSkewNotice(notice);
    return { key: { queue: LOCAL_QUEUE, senderId, id: parcel.id }, outcome: 'consumed' };
  }

  private async validateParcel(parcel: Parcel, trusted: Certificate[] | null, fields: object): Promise<void> {
    try {
      await parcel.validate(trusted, this.validationOptions());
    } catch (error) {
      this.refuseParcel(`Parcel is invalid: ${errorMessage(error)}`, fields, error);
    }
  }
}
