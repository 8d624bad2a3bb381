/**
 * The public endpoint (lives in the adapter): receives parcels over PogRPC from relaying gateways, and sends
 * the app's replies to private endpoints through a relaying gateway with the PDAs they issued.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

import {
  type BackoffOptions,
  type Certificate,
  errorMessage,
  type Logger,
  Parcel,
  ServiceMessage,
  silentLogger,
} from '@twitter-relaynet/core';
import { createPogRPCServer, type PogRPCServer, type ServerTls } from '@twitter-relaynet/pogrpc';

import { systemClock, type Clock } from './clock';
import { writeConnectionParameters, type ConnectionParameters } from './connectionParameters';
import { EndpointStateError, InvalidParcelError, PeerError } from './errors';
import { loadOrCreateSelfIssuedIdentity } from './identity';
import { DEFAULT_INITIAL_SESSION_KEY_ROTATION_MS, DEFAULT_PARCEL_TTL_SECONDS } from './constants';
import type { MessageHandler, OutgoingMessage, ReceiptOutcome } from './messages';
import { OutboxDispatcher, type GatewayResolver, type GatewayRoute } from './outbox';
import { checkDeliveryAuthorization, type DeliveryAuthorization } from './pda';
import { ParcelReceiver } from './receiver';
import { DEFAULT_SESSION_KEY_LIFETIME_MS, SessionManager } from './sessions';
import { openEndpointSqliteStores } from './stores/sqlite';
import type { EndpointStores } from './stores/types';

const MAINTENANCE_INTERVAL_MS = 3_600_000;

export interface PublicEndpointOptions {
  /** The endpoint's data directory (SQLite, 0700/0600); or pass `stores`. */
  readonly dataDir?: string;
  readonly stores?: EndpointStores;
  /** The domain name private endpoints address their parcels to. */
  readonly internetAddress: string;
  /** Takes each incoming message durably; the parcel is acknowledged once it resolves. */
  readonly onMessage: MessageHandler;
  /** Where replies go: a fixed relaying gateway, or a resolver from the return address. */
  readonly relayingGateway?: GatewayRoute | GatewayResolver;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly backoff?: BackoffOptions;
  readonly parcelTtlSeconds?: number;
  readonly sessionKeyLifetimeMs?: number;
  readonly initialSessionKeyRotationMs?: number;
}

export interface PublicListenOptions {
  /** `host:port` (port 0: any), `[::1]:port` or `unix:///path.sock`. */
  readonly address: string;
  readonly tls: ServerTls;
  readonly idleTimeoutMs?: number;
}

export interface SendOptions {
  /** The PDA the private endpoint gave us, with its chain. */
  readonly authorization: DeliveryAuthorization;
  /** The gateway return address the recipient's messages came with (routing hint for the resolver). */
  readonly gatewayAddress?: string | null;
  readonly ttlSeconds?: number;
  readonly parcelId?: string;
}

export interface QueuedParcel {
  readonly parcelId: string;
  readonly recipientId: string;
  readonly expiryDate: Date;
  readonly encryption: 'session' | 'sessionless';
}

export class PublicEndpoint {
  static async open(options: PublicEndpointOptions): Promise<PublicEndpoint> {
    if (!options.stores && !options.dataDir) throw new TypeError('Pass dataDir or stores');
    const stores = options.stores ?? openEndpointSqliteStores(options.dataDir!);
    try {
      const clock = options.clock ?? systemClock;
      const identity = await loadOrCreateSelfIssuedIdentity(stores.keys, clock);
      const endpoint = new PublicEndpoint(options, stores, clock, identity.privateKey, identity.certificate);
      await endpoint.runMaintenance();
      return endpoint;
    } catch (error) {
      if (!options.stores) await stores.close();
      throw error;
    }
  }

  readonly id: string;
  readonly internetAddress: string;
  private readonly logger: Logger;
  private readonly sessions: SessionManager;
  private readonly receiver: ParcelReceiver;
  private readonly dispatcher: OutboxDispatcher | null;
  private readonly servers = new Set<PogRPCServer>();
  private readonly maintenanceTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly options: PublicEndpointOptions,
    readonly stores: EndpointStores,
    private readonly clock: Clock,
    private readonly privateKey: KeyObject,
    readonly certificate: Certificate,
  ) {
    this.id = certificate.calculateSubjectId();
    this.internetAddress = options.internetAddress.toLowerCase().replace(/\.$/, '');
    this.logger = options.logger ?? silentLogger;
    this.sessions = new SessionManager(
      stores,
      clock,
      async () => privateKey,
      options.sessionKeyLifetimeMs ?? DEFAULT_SESSION_KEY_LIFETIME_MS,
    );
    this.receiver = new ParcelReceiver({
      clock,
      logger: this.logger,
      dedup: stores.dedup,
      sessions: this.sessions,
      validate: (parcel, now) => this.validateIncoming(parcel, now),
    });
    const route = options.relayingGateway;
    this.dispatcher = route
      ? new OutboxDispatcher({
          outbox: stores.outbox,
          clock,
          logger: this.logger,
          resolve: typeof route === 'function' ? route : () => route,
          backoff: options.backoff,
        })
      : null;
    this.dispatcher?.start();
    this.maintenanceTimer = setInterval(() => {
      this.runMaintenance().catch((error) =>
        this.logger.error({ err: errorMessage(error) }, 'Endpoint maintenance failed'),
      );
    }, MAINTENANCE_INTERVAL_MS);
    this.maintenanceTimer.unref();
  }

  /** Start a PogRPC server for relaying gateways to deliver parcels to. */
  async listen(options: PublicListenOptions): Promise<PogRPCServer> {
    this.assertOpen();
    const server = await createPogRPCServer({
      address: options.address,
      tls: options.tls,
      idleTimeoutMs: options.idleTimeoutMs,
      logger: this.logger,
      onParcel: async (parcel, context) => {
        await this.receiveParcel(parcel, { gatewayAddress: context.gatewayAddress });
      },
    });
    this.servers.add(server);
    this.logger.info({ address: server.address, endpointId: this.id }, 'Public endpoint listening (PogRPC)');
    return server;
  }

  /**
   * Handle one parcel as a binding delivered it. Resolves when it may be acknowledged (accepted, duplicate or
   * refused for good); rejects when it must not be (the app's handler or a store failed).
   */
  receiveParcel(
    serialization: Buffer,
    context: { readonly gatewayAddress?: string | null } = {},
  ): Promise<ReceiptOutcome> {
    this.assertOpen();
    return this.receiver.receive(serialization, this.options.onMessage, context);
  }

  /** Turn a message into a parcel for the private endpoint that issued `authorization`, and queue it. */
  async sendMessage(message: OutgoingMessage, options: SendOptions): Promise<QueuedParcel> {
    this.assertOpen();
    const now = this.clock.now();
    const { authorization } = options;
    const { recipientId, recipientCertificate } = await checkDeliveryAuthorization(authorization, this.id, now);
    const serviceMessage = new ServiceMessage(message.type, message.content);
    const encryption = await this.sessions.encrypt(serviceMessage.serialize(), recipientId, recipientCertificate);
    const pdaRemainingSeconds = Math.floor((authorization.pda.expiryDate.getTime() - now.getTime()) / 1000);
    const ttl = Math.min(
      options.ttlSeconds ?? this.options.parcelTtlSeconds ?? DEFAULT_PARCEL_TTL_SECONDS,
      pdaRemainingSeconds,
    );
    if (ttl <= 0) throw new PeerError('The PDA expires too soon to send anything');
    const parcel = new Parcel({ id: recipientId }, authorization.pda, encryption.envelopedData, {
      id: options.parcelId,
      creationDate: now,
      ttl,
      senderCaCertificateChain: authorization.chain,
    });
    const serialized = await parcel.serialize(this.privateKey);
    // Committed while the parcel was signed; it must be stored before the parcel can leave through the outbox.
    await encryption.keySaved;
    await this.stores.outbox.add({
      parcelId: parcel.id,
      recipientId,
      gatewayAddress: options.gatewayAddress ?? null,
      parcel: serialized,
      expiryDate: parcel.expiryDate,
      nextAttemptDate: now,
      attempts: 0,
    });
    this.logger.info(
      { parcelId: parcel.id, recipientId, type: message.type, encryption: encryption.kind },
      'Queued a parcel in the outbox',
    );
    this.dispatcher?.trigger();
    return { parcelId: parcel.id, recipientId, expiryDate: parcel.expiryDate, encryption: encryption.kind };
  }

  /** One outbox delivery pass now (normally automatic). */
  async flushOutbox(): Promise<{ delivered: number; failed: number; expired: number }> {
    this.assertOpen();
    if (!this.dispatcher) throw new EndpointStateError('No relaying gateway configured');
    return this.dispatcher.flush();
  }

  /** The connection parameters to publish (rotating the initial session key when it is old). */
  async getConnectionParameters(): Promise<ConnectionParameters> {
    this.assertOpen();
    const key = await this.sessions.getOrCreateInitialSessionKey(
      this.options.initialSessionKeyRotationMs ?? DEFAULT_INITIAL_SESSION_KEY_ROTATION_MS,
    );
    return {
      internetAddress: this.internetAddress,
      identityCertificate: this.certificate,
      sessionKey: { keyId: key.keyId, publicKey: createPublicKey(key.privateKey), creationDate: key.creationDate },
    };
  }

  /** Force a new initial session key (the previous ones keep working until they expire). */
  async rotateInitialSessionKey(): Promise<void> {
    this.assertOpen();
    await this.sessions.createInitialSessionKey();
  }

  async publishConnectionParameters(path: string): Promise<ConnectionParameters> {
    const parameters = await this.getConnectionParameters();
    await writeConnectionParameters(path, parameters);
    this.logger.info({ path, endpointId: this.id }, 'Published the connection parameters');
    return parameters;
  }

  /** Delete expired session keys and dedup entries (also runs hourly). */
  async runMaintenance(): Promise<void> {
    const now = this.clock.now();
    const keys = await this.stores.keys.deleteExpiredSessionKeys(now);
    const ids = await this.stores.dedup.deleteExpired(now);
    if (keys || ids) this.logger.info({ sessionKeys: keys, dedupEntries: ids }, 'Deleted expired records');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.maintenanceTimer);
    await Promise.all([...this.servers].map((server) => server.close()));
    await this.dispatcher?.stop();
    if (!this.options.stores) await this.stores.close();
  }

  private async validateIncoming(parcel: Parcel, now: Date): Promise<void> {
    if (parcel.recipient.id !== this.id) {
      throw new InvalidParcelError(`Parcel is addressed to ${parcel.recipient.id}, not to this endpoint (${this.id})`);
    }
    const address = parcel.recipient.internetAddress?.toLowerCase().replace(/\.$/, '');
    if (address !== this.internetAddress) {
      throw new InvalidParcelError(
        `Parcel is addressed to Internet address ${parcel.recipient.internetAddress ?? '(none)'}, not ${this.internetAddress}`,
      );
    }
    // A public recipient hears from anyone, but the sender's certificate chain must hold together up to its
    // last certificate (the sender's own when it attached none).
    const chain = parcel.senderCaCertificateChain;
    const anchor = chain.length > 0 ? chain[chain.length - 1] : parcel.senderCertificate;
    await parcel.validate([anchor], { now });
  }

  private assertOpen(): void {
    if (this.closed) throw new EndpointStateError('The endpoint is closed');
  }
}
