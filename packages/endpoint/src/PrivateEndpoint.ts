/**
 * The private endpoint (lives in an app on the offline computer): registers with its user gateway (which
 * certifies its identity key), issues PDAs to the public endpoints it wants to hear from, sends messages as
 * parcels and collects the parcels addressed to it.
 */
import { createPublicKey } from 'node:crypto';

import {
  Certificate,
  derSerializePublicKey,
  getIdFromIdentityKey,
  issueDeliveryAuthorization,
  type Logger,
  Parcel,
  ServiceMessage,
  silentLogger,
} from '@twitter-relaynet/core';

import { systemClock, type Clock } from './clock';
import { getConnectionParametersId, type ConnectionParameters } from './connectionParameters';
import { EndpointStateError, InvalidParcelError, PeerError } from './errors';
import { loadOrCreateIdentityKey } from './identity';
import type { MessageHandler, OutgoingMessage, ReceiptOutcome } from './messages';
import type { DeliveryAuthorization } from './pda';
import { ParcelReceiver } from './receiver';
import { DEFAULT_PARCEL_TTL_SECONDS } from './constants';
import { DEFAULT_SESSION_KEY_LIFETIME_MS, SessionManager } from './sessions';
import { openEndpointSqliteStores } from './stores/sqlite';
import type { EndpointStores, IdentityRecord } from './stores/types';
import type { GatewaySession, GatewayTransport } from './transport';

const HOUR_MS = 3_600_000;
/** Parcels `deliverParcels` takes ahead of the acks: PoWebSocket's default window, and as many more queued for it. */
export const DELIVERIES_AHEAD = 10;
const DAY_MS = 24 * HOUR_MS;

export interface PrivateEndpointOptions {
  /** The endpoint's data directory (SQLite, 0700/0600); or pass `stores`. */
  readonly dataDir?: string;
  readonly stores?: EndpointStores;
  /** How to reach the user gateway (PoWebSocketGatewayTransport in production). */
  readonly transport: GatewayTransport;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly parcelTtlSeconds?: number;
  readonly sessionKeyLifetimeMs?: number;
  /** Register again when the certificate has less than this left (default 30 days). */
  readonly renewCertificateBeforeMs?: number;
}

/** A public endpoint this endpoint writes to, from its connection parameters. */
export interface PublicPeer {
  readonly id: string;
  readonly internetAddress: string;
  readonly identityCertificate: Certificate;
}

export interface OutgoingParcel {
  readonly parcelId: string;
  readonly recipientId: string;
  readonly parcel: Buffer;
  readonly expiryDate: Date;
  readonly encryption: 'session' | 'sessionless';
}

export interface CollectOptions {
  readonly onMessage: MessageHandler;
  /** Keep collecting parcels as they arrive until `signal` aborts. */
  readonly keepAlive?: boolean;
  readonly signal?: AbortSignal;
}

export interface CollectionReport {
  readonly accepted: number;
  readonly duplicates: number;
  readonly refused: number;
}

export class PrivateEndpoint {
  static async open(options: PrivateEndpointOptions): Promise<PrivateEndpoint> {
    if (!options.stores && !options.dataDir) throw new TypeError('Pass dataDir or stores');
    const stores = options.stores ?? openEndpointSqliteStores(options.dataDir!);
    try {
      const clock = options.clock ?? systemClock;
      const identity = await loadOrCreateIdentityKey(stores.keys);
      const endpoint = new PrivateEndpoint(options, stores, clock, identity);
      await stores.keys.deleteExpiredSessionKeys(clock.now());
      await stores.dedup.deleteExpired(clock.now());
      return endpoint;
    } catch (error) {
      if (!options.stores) await stores.close();
      throw error;
    }
  }

  /** Our node id ("0" + hex SHA-256 of the identity key's SPKI): known before registration. */
  readonly id: string;
  private readonly logger: Logger;
  private readonly sessions: SessionManager;
  private readonly receiver: ParcelReceiver;
  private readonly peers = new Map<string, PublicPeer>();
  private closed = false;

  private constructor(
    private readonly options: PrivateEndpointOptions,
    readonly stores: EndpointStores,
    private readonly clock: Clock,
    private identity: IdentityRecord,
  ) {
    this.id = getIdFromIdentityKey(identity.privateKey);
    this.logger = options.logger ?? silentLogger;
    this.sessions = new SessionManager(
      stores,
      clock,
      async () => this.identity.privateKey,
      options.sessionKeyLifetimeMs ?? DEFAULT_SESSION_KEY_LIFETIME_MS,
    );
    this.receiver = new ParcelReceiver({
      clock,
      logger: this.logger,
      dedup: stores.dedup,
      sessions: this.sessions,
      validate: (parcel, now) => this.validateIncoming(parcel, now),
    });
  }

  /** Our certificate (issued by the gateway); null before registration. */
  get certificate(): Certificate | null {
    return this.identity.certificate;
  }

  get gatewayCertificate(): Certificate | null {
    return this.identity.certificateChain[0] ?? null;
  }

  get isRegistered(): boolean {
    const certificate = this.identity.certificate;
    return certificate !== null && certificate.expiryDate.getTime() > this.clock.now().getTime();
  }

  /**
   * Register with the gateway (it certifies our identity key) unless we hold a certificate with more than
   * `renewCertificateBeforeMs` left, or `force`.
   */
  async register(options: { force?: boolean } = {}): Promise<Certificate> {
    this.assertOpen();
    const current = this.identity.certificate;
    const renewBefore = this.options.renewCertificateBeforeMs ?? 30 * DAY_MS;
    if (!options.force && current && current.expiryDate.getTime() - this.clock.now().getTime() > renewBefore) {
      return current;
    }
    const publicKeyDer = derSerializePublicKey(createPublicKey(this.identity.privateKey));
    const registration = await this.options.transport.register(publicKeyDer);
    let certificate: Certificate;
    let gatewayCertificate: Certificate;
    try {
      certificate = Certificate.deserialize(registration.endpointCertificate);
      gatewayCertificate = Certificate.deserialize(registration.gatewayCertificate);
    } catch (error) {
      throw new EndpointStateError(`The gateway returned a malformed certificate: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!certificate.subjectPublicKeyInfo.equals(publicKeyDer)) {
      throw new EndpointStateError('The gateway certified a key that is not ours');
    }
    if (!(await certificate.isIssuedBy(gatewayCertificate))) {
      throw new EndpointStateError('Our new certificate was not issued by the gateway certificate sent with it');
    }
    certificate.validate(this.clock.now());
    this.identity = { privateKey: this.identity.privateKey, certificate, certificateChain: [gatewayCertificate] };
    await this.stores.keys.saveIdentity(this.identity);
    this.logger.info(
      { endpointId: this.id, gatewayId: gatewayCertificate.calculateSubjectId(), expiryDate: certificate.expiryDate },
      'Registered with the gateway',
    );
    return certificate;
  }

  /**
   * Know a public endpoint from its connection parameters. Its published session key becomes the one we
   * use unless we already hold a newer one (learned from its messages).
   */
  async addPublicPeer(parameters: ConnectionParameters): Promise<PublicPeer> {
    this.assertOpen();
    const peer: PublicPeer = {
      id: getConnectionParametersId(parameters),
      internetAddress: parameters.internetAddress.toLowerCase(),
      identityCertificate: parameters.identityCertificate,
    };
    // An Internet address names one endpoint: the newest parameters for it win.
    for (const [id, known] of this.peers) {
      if (known.internetAddress === peer.internetAddress && id !== peer.id) this.peers.delete(id);
    }
    this.peers.set(peer.id, peer);
    if (parameters.sessionKey) {
      await this.stores.peerSessionKeys.saveIfNewer(peer.id, {
        sessionKey: parameters.sessionKey,
        creationDate: parameters.sessionKey.creationDate,
      });
    }
    return peer;
  }

  getPublicPeer(idOrInternetAddress: string): PublicPeer | null {
    const byId = this.peers.get(idOrInternetAddress);
    if (byId) return byId;
    const address = idOrInternetAddress.toLowerCase();
    return [...this.peers.values()].find((peer) => peer.internetAddress === address) ?? null;
  }

  /**
   * Issue a PDA so the public endpoint holding `peerCertificate` may send us parcels until `validityEnd`
   * (capped at our own certificate's expiry). Give the peer `serializeDeliveryAuthorization(result)`.
   */
  async issuePda(peerCertificate: Certificate, validityEnd: Date): Promise<DeliveryAuthorization> {
    const { certificate, chain } = this.requireRegistration();
    const now = this.clock.now();
    const end = Math.min(validityEnd.getTime(), certificate.expiryDate.getTime());
    if (end <= now.getTime()) throw new PeerError('The PDA would already be expired');
    // Backdated (peers' clocks may be behind), but not before our own certificate is valid.
    const start = Math.max(now.getTime() - 2 * HOUR_MS, certificate.startDate.getTime());
    const pda = await issueDeliveryAuthorization({
      subjectPublicKey: peerCertificate.publicKey,
      issuerPrivateKey: this.identity.privateKey,
      issuerCertificate: certificate,
      validityStartDate: new Date(start),
      validityEndDate: new Date(end),
    });
    this.logger.info(
      { peerId: peerCertificate.calculateSubjectId(), expiryDate: pda.expiryDate.toISOString() },
      'Issued a PDA',
    );
    return { pda, chain: [certificate, ...chain] };
  }

  /** Turn a message into a signed parcel for a known public peer (no delivery). */
  async makeParcel(
    peerIdOrAddress: string,
    message: OutgoingMessage,
    options: { ttlSeconds?: number; parcelId?: string } = {},
  ): Promise<OutgoingParcel> {
    this.assertOpen();
    const { certificate, chain } = this.requireRegistration();
    const peer = this.getPublicPeer(peerIdOrAddress);
    if (!peer) throw new PeerError(`Unknown public endpoint ${peerIdOrAddress}: add its connection parameters first`);
    const now = this.clock.now();
    const serviceMessage = new ServiceMessage(message.type, message.content);
    const encryption = await this.sessions.encrypt(serviceMessage.serialize(), peer.id, peer.identityCertificate);
    const certificateRemaining = Math.floor((certificate.expiryDate.getTime() - now.getTime()) / 1000);
    const ttl = Math.min(
      options.ttlSeconds ?? this.options.parcelTtlSeconds ?? DEFAULT_PARCEL_TTL_SECONDS,
      certificateRemaining,
    );
    const parcel = new Parcel(
      { id: peer.id, internetAddress: peer.internetAddress },
      certificate,
      encryption.envelopedData,
      { id: options.parcelId, creationDate: now, ttl, senderCaCertificateChain: chain },
    );
    // Our new session key is committed while the parcel is signed; the parcel leaves only once both are done.
    const [serialized] = await Promise.all([parcel.serialize(this.identity.privateKey), encryption.keySaved]);
    this.logger.info(
      { parcelId: parcel.id, recipientId: peer.id, type: message.type, encryption: encryption.kind },
      'Made a parcel',
    );
    return {
      parcelId: parcel.id,
      recipientId: peer.id,
      parcel: serialized,
      expiryDate: parcel.expiryDate,
      encryption: encryption.kind,
    };
  }

  /**
   * Deliver parcels to the gateway over one connection; resolves once it acknowledged them all. Up to
   * `DELIVERIES_AHEAD` parcels are taken from `parcels` and not yet acknowledged (the binding sends as many
   * as its window allows), so the gateway stores several with one commit and an (async) iterable source may
   * still be making the next ones. Rejects with the first failure, once the deliveries under way settled:
   * the parcels not acknowledged by then must be delivered again.
   */
  async deliverParcels(parcels: Iterable<OutgoingParcel> | AsyncIterable<OutgoingParcel>): Promise<void> {
    await this.withSession(async (session) => {
      const inFlight = new Set<Promise<void>>();
      let failure: { error: unknown } | undefined;
      for await (const parcel of parcels) {
        const delivery = session.deliverParcel(parcel.parcel).then(
          () => this.logger.info({ parcelId: parcel.parcelId }, 'Parcel delivered to the gateway (acknowledged)'),
          (error: unknown) => void (failure ??= { error }),
        );
        inFlight.add(delivery);
        void delivery.finally(() => inFlight.delete(delivery));
        if (inFlight.size >= DELIVERIES_AHEAD) await Promise.race(inFlight);
        if (failure) break;
      }
      await Promise.all(inFlight);
      if (failure) throw failure.error;
    });
  }

  /** Make a parcel and deliver it; resolves once the gateway stored it. */
  async sendMessage(
    peerIdOrAddress: string,
    message: OutgoingMessage,
    options: { ttlSeconds?: number } = {},
  ): Promise<OutgoingParcel> {
    const parcel = await this.makeParcel(peerIdOrAddress, message, options);
    await this.deliverParcels([parcel]);
    return parcel;
  }

  /** Collect the parcels the gateway holds for us; each is acknowledged once `onMessage` resolved. */
  async collectMessages(options: CollectOptions): Promise<CollectionReport> {
    const counts = { accepted: 0, duplicates: 0, refused: 0 };
    await this.withSession((session) =>
      session.collectParcels({
        keepAlive: options.keepAlive,
        signal: options.signal,
        onParcel: async (parcel) => {
          const outcome = await this.receiveParcel(parcel, options.onMessage);
          if (outcome.status === 'accepted') counts.accepted += 1;
          else if (outcome.status === 'duplicate') counts.duplicates += 1;
          else counts.refused += 1;
        },
      }),
    );
    return counts;
  }

  /**
   * Handle one parcel as a binding delivered it: resolves when it may be acknowledged, rejects when not.
   */
  receiveParcel(serialization: Buffer, onMessage: MessageHandler): Promise<ReceiptOutcome> {
    this.assertOpen();
    return this.receiver.receive(serialization, onMessage);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.options.stores) await this.stores.close();
  }

  private async withSession<T>(work: (session: GatewaySession) => Promise<T>): Promise<T> {
    this.assertOpen();
    const { certificate } = this.requireRegistration();
    const session = await this.options.transport.connect({ privateKey: this.identity.privateKey, certificate });
    try {
      return await work(session);
    } finally {
      await session.close().catch(() => undefined);
    }
  }

  private async validateIncoming(parcel: Parcel, now: Date): Promise<void> {
    const { certificate } = this.requireRegistration();
    if (parcel.recipient.id !== this.id) {
      throw new InvalidParcelError(`Parcel is addressed to ${parcel.recipient.id}, not to this endpoint (${this.id})`);
    }
    if (parcel.recipient.internetAddress !== undefined) {
      throw new InvalidParcelError('Parcel for a private endpoint must not carry an Internet address');
    }
    // Only senders holding a PDA we issued: the path must end at our own certificate (core checks that the
    // sender certificate's issuer is the recipient).
    await parcel.validate([certificate], { now });
  }

  private requireRegistration(): { certificate: Certificate; chain: readonly Certificate[] } {
    const certificate = this.identity.certificate;
    if (!certificate) throw new EndpointStateError('Not registered with a gateway yet: call register()');
    return { certificate, chain: this.identity.certificateChain };
  }

  private assertOpen(): void {
    if (this.closed) throw new EndpointStateError('The endpoint is closed');
  }
}
