/**
 * The relaying gateway daemon: a RelayingGateway (packages/gateway) behind a CoSocket server for
 * relays, a PogRPC server for public endpoints sending to private ones, a PogRPC client delivering
 * the parcels from cargo to public endpoints (durable queue, retries with backoff), and the
 * file-based registration of user gateways.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  createCogRPCServer,
  type CogRPCServer,
  GatewayRegistrationRefusedError,
  type ServerTls,
} from '@twitter-relaynet/cogrpc';
import { type Certificate, errorMessage, type Logger } from '@twitter-relaynet/core';
import {
  ensurePrivateDirectory,
  IntervalPoller,
  listeningHost,
  loadOrCreateKeyPair,
  Notifier,
  publishServer,
  readCertificate,
  tlsHostnames,
  writeCertificate,
} from '@twitter-relaynet/daemon-kit';
import {
  CoSocketRefusalError,
  createCoSocketServer,
  type CoSocketServer,
  RefusalDisposition,
} from '@twitter-relaynet/cosocket';
import {
  answerRegistrationRequests,
  CargoRefusedError,
  CcaRefusedError,
  CcaReusedError,
  CcaTimingError,
  CourierRegistrar,
  INTERNET_QUEUE,
  InternetDelivery,
  logFutureDatedCargo,
  openGatewaySqliteStores,
  ParcelRefusedError,
  RegistrationRequestRefusedError,
  RelayingGateway,
  type RouteFailure,
  routeFailureFields,
  selfIssueGatewayCertificate,
  type GatewayStores,
} from '@twitter-relaynet/gateway';
// Types only (erased): the package, and `pg` with it, is loaded by start() only when a database URL is given.
import type { PostgresGatewayStores } from '@twitter-relaynet/gateway-postgres';

type PostgresModule = typeof import('@twitter-relaynet/gateway-postgres');
import {
  certificateFingerprint,
  createPogRPCServer,
  loadOrCreateServerTlsIdentity,
  PogRPCClient,
  type PogRPCServer,
} from '@twitter-relaynet/pogrpc';

import { AddressBook, type Route } from './addressBook';
import { toCogRPCRefusal } from './cogrpc';
import { mapCargoes, watchedCollection } from './collection';
import { type CogRPCConfig, describeDatabaseUrl, type RelayerGatewayConfig } from './config';
import { Health } from './health';
import { asOutage, refusingDuringOutage } from './outage';

export const FILES = {
  key: 'identity-key.pem',
  certificate: 'identity-certificate.pem',
  database: 'gateway.sqlite',
  health: 'health.json',
} as const;

const PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** Reissue our self-issued certificate when less than this is left. */
const CERTIFICATE_RENEWAL_MS = 30 * 24 * 60 * 60 * 1000;

export interface RelayerGatewayDaemonOptions {
  readonly config: RelayerGatewayConfig;
  readonly logger: Logger;
  readonly print?: (line: string) => void;
}

export class RelayerGatewayDaemon {
  private stores!: GatewayStores;
  /** The same stores when they are in PostgreSQL (shared with other instances), else null. */
  private postgres: PostgresGatewayStores | null = null;
  private gatewayInstance!: RelayingGateway;
  private registrar!: CourierRegistrar;
  private cosocket: CoSocketServer | null = null;
  private pogrpc: PogRPCServer | null = null;
  private cogrpc: CogRPCServer | null = null;
  private cogrpcAddress = '';
  private registrationFolder: IntervalPoller | null = null;
  private purging: IntervalPoller | null = null;
  private delivery: InternetDelivery<Route> | null = null;
  private readonly notifier = new Notifier();
  private readonly addressBook: AddressBook;
  private readonly logger: Logger;
  private readonly config: RelayerGatewayConfig;
  private publicAddress = '';
  private stopped = false;
  private health!: Health;
  /** host:port of the health endpoint, once started with --health-address. */
  healthAddress: string | null = null;

  constructor(private readonly options: RelayerGatewayDaemonOptions) {
    this.logger = options.logger;
    this.config = options.config;
    this.addressBook = new AddressBook({
      addressBookPath: this.config.addressBook,
      publicEndpoints: this.config.publicEndpoints,
    });
  }

  get gateway(): RelayingGateway {
    return this.gatewayInstance;
  }

  /** host:port of the PogRPC server, once started. */
  get pogrpcAddress(): string {
    return this.publicAddress;
  }

  private path(name: string): string {
    return join(this.config.dataDir, name);
  }

  async start(): Promise<void> {
    const { config } = this;
    ensurePrivateDirectory(config.dataDir);
    this.health = new Health(this.path(FILES.health), this.logger);
    const { keyPair, created } = await loadOrCreateKeyPair(this.path(FILES.key));
    if (created) this.logger.info({ file: this.path(FILES.key) }, 'Identity key generated');
    let certificate: Certificate | null = readCertificate(this.path(FILES.certificate));
    if (!certificate || certificate.expiryDate.getTime() - Date.now() < CERTIFICATE_RENEWAL_MS) {
      certificate = await selfIssueGatewayCertificate(keyPair);
      await writeCertificate(this.path(FILES.certificate), certificate, 0o644);
      this.logger.info({ expiryDate: certificate.expiryDate.toISOString() }, 'Identity certificate self-issued');
    }
    this.stores = await this.openStores();
    try {
      await this.postgres?.bindIdentity(certificate.calculateSubjectId());
    } catch (error) {
      await this.stores.close();
      throw error;
    }
    this.gatewayInstance = new RelayingGateway({
      identity: { privateKey: keyPair.privateKey, certificate },
      stores: this.stores,
      logger: this.logger,
      // On SQLite a crash means a retry at the next start anyway; on PostgreSQL, when another instance takes over.
      deliveryLeaseMs: config.deliveryLeaseMs,
    });
    this.registrar = new CourierRegistrar({
      gateway: this.gatewayInstance,
      answers: this.stores.courierAnswers,
      logger: this.logger,
    });
    if (this.postgres) {
      // Other instances may be delivering: their leases stand (a dead one's end by themselves). Parcels that
      // any instance queues for the Internet wake this one's delivery loop; the poll interval is the rescan.
      await this.postgres.onParcelsQueued((queue) => {
        if (queue === INTERNET_QUEUE || queue === '') this.notifier.notify();
      });
    } else {
      await this.gatewayInstance.releaseDeliveryLeases();
    }

    this.cosocket = await createCoSocketServer({
      socketPath: config.cosocketSocket,
      logger: this.logger,
      // During a database outage each request ends without a log line of its own (see outage.ts).
      onCargoDelivered: (cargo, deliveryId) =>
        refusingDuringOutage(this.postgres, () => this.receiveCargo(cargo, deliveryId)),
      onCargoCollectionRequest: (cca) => refusingDuringOutage(this.postgres, () => this.collectCargo(cca)),
      onRegistrationExchange: async (request) => {
        try {
          return await this.answerCourierRegistration(request, 'CoSocket');
        } catch (error) {
          if (error instanceof RegistrationRequestRefusedError)
            throw new CoSocketRefusalError(error.message, RefusalDisposition.FINAL);
          throw asOutage(error, this.postgres);
        }
      },
    });

    const host = listeningHost(config.pogrpcAddress);
    const hostnames = tlsHostnames(config.pogrpcAddress);
    const tls = await loadOrCreateServerTlsIdentity(config.dataDir, { hostnames });
    this.pogrpc = await createPogRPCServer({
      address: config.pogrpcAddress,
      tls,
      logger: this.logger,
      onParcel: (parcel, context) =>
        refusingDuringOutage(this.postgres, () => this.receiveParcelFromInternet(parcel, context.deliveryId)),
    });
    this.publicAddress = `${host}:${this.pogrpc.port}`;
    await publishServer(config.pogrpcPublication, {
      address: this.publicAddress,
      tlsCertificatePem: this.pogrpc.certificatePem,
    });

    if (config.cogrpc) await this.startCogRPC(config.cogrpc, hostnames);

    this.registrationFolder = new IntervalPoller({
      intervalMs: config.pollIntervalMs,
      task: () => this.answerRegistrations(),
      onError: (error) => this.logFailure('Registration folder error', error),
    });
    await this.registrationFolder.runNow();
    this.registrationFolder.start();
    this.purging = new IntervalPoller({
      intervalMs: PURGE_INTERVAL_MS,
      task: () => this.purge(),
      onError: (error) => this.logFailure('Purging expired messages failed', error),
    }).start({ immediately: true });
    this.delivery = new InternetDelivery<Route>({
      gateway: this.gatewayInstance,
      resolve: (address) => this.addressBook.resolve(address),
      routeKey: (route) => `${route.target}\n${JSON.stringify(route.tls)}`,
      connect: (route) =>
        new PogRPCClient(route.target, { tls: route.tls, gatewayAddress: this.publicAddress, logger: this.logger }),
      waitForParcels: (signal, timeoutMs) => this.notifier.wait(signal, timeoutMs),
      pollIntervalMs: config.pollIntervalMs,
      logger: this.logger,
      onRoundError: (error) => this.logFailure('Delivery round failed', error),
      onRouteFailure: (failure) => this.publicEndpointFailed(failure),
    }).start();
    await this.publishHealth(this.postgres && !this.postgres.reachable ? 'PostgreSQL unreachable' : null);
    if (config.healthAddress) this.healthAddress = await this.health.serve(config.healthAddress);
    this.printBanner();
  }

  private async openStores(): Promise<GatewayStores> {
    const { databaseUrl } = this.config;
    if (!databaseUrl) return openGatewaySqliteStores(this.path(FILES.database));
    // Typed through the type-only import: the type checker may resolve this dynamic import to the built copy.
    const { openPostgresStores } = (await import('@twitter-relaynet/gateway-postgres')) as unknown as PostgresModule;
    this.postgres = await openPostgresStores({
      connectionString: databaseUrl,
      logger: this.logger,
      onReachabilityChange: (reachable) =>
        void this.publishHealth(
          reachable ? null : 'PostgreSQL unreachable: nothing is acknowledged until it answers again',
        ),
    });
    this.logger.info(
      { database: describeDatabaseUrl(databaseUrl) },
      'Stores in PostgreSQL (shared by every instance given it)',
    );
    return this.postgres;
  }

  /** Readiness (health.ts): health.json, and GET /healthz with --health-address; rewritten at every change. */
  private async publishHealth(notReadyReason: string | null): Promise<void> {
    await this.health.set(notReadyReason);
  }

  /**
   * Log a failure of a periodic task, unless the database is unreachable: the stores said so once already, and
   * will say when it answers again (the tasks go on retrying meanwhile).
   */
  private logFailure(message: string, error: unknown): void {
    if (this.postgres && !this.postgres.reachable) return;
    this.logger.error({ err: errorMessage(error) }, message);
  }

  private printBanner(): void {
    const print = this.options.print ?? ((line: string) => process.stdout.write(line + '\n'));
    const { config } = this;
    print(`relayer-gateway: node id ${this.gateway.id}`);
    print(`relayer-gateway: CoSocket (relays): ${config.cosocketSocket}`);
    print(
      `relayer-gateway: PogRPC (public endpoints): ${this.publicAddress} (TLS certificate SHA-256 ` +
        `${certificateFingerprint(this.pogrpc!.certificatePem!)}; published in ${config.pogrpcPublication})`,
    );
    if (this.cogrpc && config.cogrpc) {
      const tls = this.cogrpc.certificatePem
        ? `TLS certificate SHA-256 ${certificateFingerprint(this.cogrpc.certificatePem)}`
        : 'PLAINTEXT, no TLS';
      print(
        `relayer-gateway: CogRPC (couriers): ${this.cogrpcAddress} (${tls}; published in ${config.cogrpc.publication})`,
      );
    }
    for (const [internetAddress, route] of config.publicEndpoints) {
      const tls = route.tlsCertificatePem
        ? `TLS certificate SHA-256 ${certificateFingerprint(route.tlsCertificatePem)}`
        : "TLS checked against the system's CAs";
      print(`relayer-gateway: public endpoint ${internetAddress} at ${route.address} (${tls})`);
    }
    print(`relayer-gateway: address book (other public endpoints, read at every delivery): ${config.addressBook}`);
    print(`relayer-gateway: certificate published in ${config.certificatePublication}`);
    print(`relayer-gateway: registration folder: ${config.registrationDir}`);
    print(`relayer-gateway: data directory: ${config.dataDir}`);
    if (this.healthAddress) print(`relayer-gateway: health: http://${this.healthAddress}/healthz`);
    print(
      `relayer-gateway: stores: ${
        config.databaseUrl
          ? `PostgreSQL ${describeDatabaseUrl(config.databaseUrl)}`
          : `SQLite ${this.path(FILES.database)}`
      }`,
    );
    print('relayer-gateway: ready');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const stopped = Promise.allSettled([this.registrationFolder?.stop(), this.purging?.stop(), this.delivery?.stop()]);
    await Promise.allSettled([this.cosocket?.close(), this.pogrpc?.close(), this.cogrpc?.close()]);
    await stopped;
    await this.stores?.close();
    await this.health?.set('stopped');
    await this.health?.close();
    this.logger.info({}, 'Relaying gateway stopped');
  }

  // -------------------------------------------------------------------------------------------
  // Registration

  /** Answer the requests in the registration folder, each with a response in its responses/ folder. */
  private async answerRegistrations(): Promise<void> {
    const requests = join(this.config.registrationDir, 'requests');
    const responses = join(this.config.registrationDir, 'responses');
    ensurePrivateDirectory(responses);
    const registered = await answerRegistrationRequests(requests, this.gateway, {
      responsesDirectory: responses,
      onError: (file, error) => this.logger.warn({ file, err: errorMessage(error) }, 'Registration request refused'),
    });
    for (const userGatewayId of registered) {
      this.logger.info({ userGatewayId, responses }, 'Registration request answered');
    }
  }

  /** A user gateway's registration request brought by a courier (CoSocket or CogRPC): the registrar's answer. */
  private async answerCourierRegistration(request: Buffer, binding: string): Promise<Buffer> {
    const answer = await this.registrar.answer(request);
    if (!answer.replayed) {
      this.logger.info({ userGatewayId: answer.userGatewayId, binding }, 'Registration request answered (courier)');
    }
    return answer.response;
  }

  // -------------------------------------------------------------------------------------------
  // CoSocket

  private async receiveCargo(cargo: Buffer, deliveryId: string): Promise<void> {
    let receipt;
    try {
      receipt = await this.gateway.receiveCargo(cargo);
    } catch (error) {
      // Refused as a whole and logged by the gateway, for good: the relay is told why (or, if it cannot
      // be told, the cargo is acknowledged so that it is not carried forever).
      if (error instanceof CargoRefusedError) {
        throw new CoSocketRefusalError(`Cargo refused: ${error.message}`, RefusalDisposition.FINAL);
      }
      throw error;
    }
    this.logger.info({ deliveryId, cargoId: receipt.cargoId, peerId: receipt.peerId }, 'Cargo taken');
    this.notifier.notify();
    // The gateway has queued a notice for the user gateway (see clockSkew.ts in packages/gateway).
    if (receipt.futureDated) logFutureDatedCargo(this.logger, receipt.futureDated, 'relaying', { deliveryId });
  }

  private async collectCargo(cca: Buffer | null) {
    if (!cca) {
      this.logger.warn({}, 'Cargo collection without a CCA refused');
      throw new CoSocketRefusalError(
        'A CCA from the user gateway is required to collect cargo here',
        RefusalDisposition.LATER,
      );
    }
    let collection;
    try {
      collection = await this.gateway.collectCargo(cca);
    } catch (error) {
      if (error instanceof CcaReusedError || error instanceof CcaTimingError) {
        // A spent or expired CCA is genuine but worthless: answer "nothing for you" rather than
        // a protocol error, so the relay can drop it instead of presenting it forever (as it would
        // after a crash between our acceptance and its deletion of the file).
        this.logger.warn({ err: error.message }, 'Spent or expired CCA: nothing to collect');
        return {
          items: [],
          refusal: { reason: `CCA refused: ${error.message}`, disposition: RefusalDisposition.FINAL },
        };
      }
      if (error instanceof CcaRefusedError) {
        throw new CoSocketRefusalError(`CCA refused: ${error.message}`, RefusalDisposition.FINAL);
      }
      throw error;
    }
    this.logger.info({ ccaId: collection.ccaId, userGatewayId: collection.userGatewayId }, 'CCA accepted');
    const cargoes = collection.cargoes;
    return {
      gatewayAddress: collection.userGatewayId,
      items: mapCargoes(cargoes, { map: (cargo) => ({ cargo: cargo.serialized }) }),
    };
  }

  // -------------------------------------------------------------------------------------------
  // CogRPC server (couriers)

  private async startCogRPC(cogrpc: CogRPCConfig, hostnames: readonly string[]): Promise<void> {
    const host = listeningHost(cogrpc.address);
    let tls: ServerTls;
    if (cogrpc.tls.kind === 'plaintext') {
      tls = { insecurePlaintextForTests: true };
    } else if (cogrpc.tls.kind === 'files') {
      const [certificatePem, keyPem] = await Promise.all([
        readFile(cogrpc.tls.certPath, 'utf8'),
        readFile(cogrpc.tls.keyPath, 'utf8'),
      ]);
      tls = { certificatePem, keyPem };
    } else {
      tls = { stateDir: join(this.config.dataDir, 'cogrpc-tls'), hostnames: tlsHostnames(cogrpc.address, hostnames) };
    }
    this.cogrpc = await createCogRPCServer({
      address: cogrpc.address,
      tls,
      logger: this.logger,
      storeCargo: (cargo, context) =>
        refusingDuringOutage(this.postgres, () => this.receiveCargo(cargo, context.deliveryId)),
      collectCargo: async (cca, context) => {
        let collection;
        try {
          collection = await this.gateway.collectCargo(cca);
        } catch (error) {
          throw asOutage(toCogRPCRefusal(error), this.postgres);
        }
        this.logger.info({ ccaId: collection.ccaId, userGatewayId: collection.userGatewayId }, 'CCA accepted (CogRPC)');
        return watchedCollection(collection, context, { logger: this.logger, database: this.postgres });
      },
      registerGateway: async (request) => {
        try {
          return await this.answerCourierRegistration(request, 'CogRPC');
        } catch (error) {
          if (error instanceof RegistrationRequestRefusedError)
            throw new GatewayRegistrationRefusedError(error.message);
          throw asOutage(error, this.postgres);
        }
      },
    });
    this.cogrpcAddress = `${host}:${this.cogrpc.port}`;
    await publishServer(cogrpc.publication, {
      address: this.cogrpcAddress,
      tlsCertificatePem: this.cogrpc.certificatePem,
    });
  }

  // -------------------------------------------------------------------------------------------
  // PogRPC server

  private async receiveParcelFromInternet(parcel: Buffer, deliveryId: string): Promise<void> {
    try {
      await this.gateway.receiveParcelFromInternet(parcel);
    } catch (error) {
      // Permanently refused and logged by the gateway (e.g. no valid PDA): acknowledged so the sender stops.
      if (error instanceof ParcelRefusedError) {
        this.logger.warn({ deliveryId }, 'Parcel from the Internet refused (acknowledged)');
        return;
      }
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Delivery to public endpoints (PogRPC client)

  /** A public endpoint failed: a TLS failure against a pinned certificate names the configuration that is wrong. */
  private publicEndpointFailed(failure: RouteFailure<Route>): void {
    const { route, parcels, error } = failure;
    if ('pinnedCertificatePem' in route.tls && /certificate/i.test(error.message)) {
      this.logger.error(
        {
          ...routeFailureFields(failure),
          internetAddress: parcels[0]?.recipientInternetAddress,
          expectedSha256: certificateFingerprint(route.tls.pinnedCertificatePem),
        },
        `Public endpoint refused: its TLS certificate is not the one configured for it (${route.source}); its parcels stay queued`,
      );
    } else {
      this.logger.warn(routeFailureFields(failure), 'Public endpoint unreachable: its parcels wait for the next try');
    }
  }

  /** One instance at a time sweeps a shared database; the others skip this round. */
  private async purge(): Promise<void> {
    if (this.postgres) await this.postgres.exclusively('purge', async () => void (await this.gateway.purgeExpired()));
    else await this.gateway.purgeExpired();
    await this.registrar.purge();
  }
}
