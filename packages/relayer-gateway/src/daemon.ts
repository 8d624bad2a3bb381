/**
 * The relaying gateway daemon: a RelayingGateway (packages/gateway) behind a CoSocket server for
 * relays, a PogRPC server for public endpoints sending to private ones, a PogRPC client delivering
 * the parcels from cargo to public endpoints (durable queue, retries with backoff), and the
 * file-based registration of user gateways.
 */
import { readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

import {
  createCogRPCServer,
  type CogRPCServer,
  GatewayRegistrationRefusedError,
  type ServerTls,
} from '@twitter-relaynet/cogrpc';
import { type Certificate, errorMessage, type Logger, writeFileAtomically } from '@twitter-relaynet/core';
import {
  CoSocketRefusalError,
  createCoSocketServer,
  type CoSocketServer,
  RefusalDisposition,
} from '@twitter-relaynet/cosocket';
import {
  answerRegistrationRequests,
  formatHours,
  CargoRefusedError,
  CcaRefusedError,
  CcaReusedError,
  CcaTimingError,
  CourierRegistrar,
  INTERNET_QUEUE,
  openGatewaySqliteStores,
  ParcelRefusedError,
  type ParcelRecord,
  RegistrationRequestRefusedError,
  RelayingGateway,
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
import { watchedCollection } from './collection';
import { type CogRPCConfig, describeDatabaseUrl, type RelayerGatewayConfig } from './config';
import { ensurePrivateDirectory, loadOrCreateKeyPair, readCertificate, writeCertificate } from './files';
import { Health } from './health';
import { Notifier } from './notifier';
import { asOutage, refusingDuringOutage } from './outage';
import { RouteBackoff } from './routeBackoff';

export const FILES = {
  key: 'identity-key.pem',
  certificate: 'identity-certificate.pem',
  database: 'gateway.sqlite',
  health: 'health.json',
} as const;

const PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** Reissue our self-issued certificate when less than this is left. */
const CERTIFICATE_RENEWAL_MS = 30 * 24 * 60 * 60 * 1000;
/** Parcels claimed per delivery round. */
const DELIVERY_BATCH = 20;
/** Delivery rounds under way at once: the next round is claimed while the previous one is delivered. */
const DELIVERY_ROUNDS_IN_FLIGHT = 2;
/**
 * ... unless the rounds under way already hold this many octets of parcels: big parcels gain little from
 * the overlap, and a second round of them would only add to the daemon's peak memory.
 */
const DELIVERY_PIPELINE_MAX_BYTES = 8 * 1024 * 1024;

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
  private readonly clients = new Map<string, PogRPCClient>();
  private readonly routeBackoff = new RouteBackoff();
  private readonly timers: NodeJS.Timeout[] = [];
  private registering: Promise<void> | null = null;
  private delivery: Promise<void> | null = null;
  private readonly abort = new AbortController();
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
    await this.releaseStaleLeases();
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
      await this.releaseStaleLeases();
    }

    this.cosocket = await createCoSocketServer({
      socketPath: config.cosocketSocket,
      logger: this.logger,
      onCargoDelivered: (cargo, deliveryId) => this.receiveCargo(cargo, deliveryId),
      onCargoCollectionRequest: (cca) => this.collectCargo(cca),
      onRegistrationExchange: async (request) => {
        try {
          return await this.answerCourierRegistration(request, 'CoSocket');
        } catch (error) {
          if (error instanceof RegistrationRequestRefusedError)
            throw new CoSocketRefusalError(error.message, RefusalDisposition.FINAL);
          throw error;
        }
      },
    });

    const host = config.pogrpcAddress.replace(/:\d+$/, '');
    const hostnames = [...new Set(['localhost', '127.0.0.1', host.replace(/^\[|\]$/g, '')])];
    const tls = await loadOrCreateServerTlsIdentity(config.dataDir, { hostnames });
    this.pogrpc = await createPogRPCServer({
      address: config.pogrpcAddress,
      tls,
      logger: this.logger,
      onParcel: (parcel, context) =>
        refusingDuringOutage(this.postgres, () => this.receiveParcelFromInternet(parcel, context.deliveryId)),
    });
    this.publicAddress = `${host}:${this.pogrpc.port}`;
    await writeFileAtomically(
      config.pogrpcPublication,
      JSON.stringify({ address: this.publicAddress, tlsCertificatePem: this.pogrpc.certificatePem }, null, 2) + '\n',
      0o644,
    );

    if (config.cogrpc) await this.startCogRPC(config.cogrpc, hostnames);

    await this.answerRegistrations();
    this.timers.push(setInterval(() => void this.answerRegistrations(), config.pollIntervalMs));
    this.timers.push(setInterval(() => void this.purge(), PURGE_INTERVAL_MS));
    void this.purge();
    this.delivery = this.deliveryLoop();
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
    for (const timer of this.timers) clearInterval(timer);
    this.abort.abort();
    this.notifier.notify();
    await Promise.allSettled([this.cosocket?.close(), this.pogrpc?.close(), this.cogrpc?.close()]);
    await this.delivery;
    await this.registering;
    for (const client of this.clients.values()) client.close();
    await this.stores?.close();
    await this.health?.set('stopped');
    await this.health?.close();
    this.logger.info({}, 'Relaying gateway stopped');
  }

  // -------------------------------------------------------------------------------------------
  // Registration

  private answerRegistrations(): Promise<void> {
    if (this.registering || this.stopped) return this.registering ?? Promise.resolve();
    this.registering = (async () => {
      const requests = join(this.config.registrationDir, 'requests');
      const responses = join(this.config.registrationDir, 'responses');
      try {
        const registered = await answerRegistrationRequests(requests, this.gateway, {
          onError: (file, error) =>
            this.logger.warn({ file, err: errorMessage(error) }, 'Registration request refused'),
        });
        // The library writes the response next to the request; it belongs in responses/.
        ensurePrivateDirectory(responses);
        for (const file of await readdir(requests)) {
          if (file.endsWith('.response.json')) await rename(join(requests, file), join(responses, file));
        }
        for (const userGatewayId of registered) {
          this.logger.info({ userGatewayId, responses }, 'Registration request answered');
        }
      } catch (error) {
        this.logFailure('Registration folder error', error);
      } finally {
        this.registering = null;
      }
    })();
    return this.registering;
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
    const { futureDated } = receipt;
    if (futureDated) {
      // The gateway has queued a notice for the user gateway (see clockSkew.ts in packages/gateway).
      this.logger.error(
        {
          deliveryId,
          cargoId: futureDated.cargoId,
          peerId: futureDated.peerId,
          parcelIds: futureDated.parcelIds,
          latestDate: futureDated.latest.toISOString(),
        },
        `Parcels not taken: ${futureDated.parcelIds.length} parcel(s) in this cargo are dated ` +
          `${formatHours(futureDated.aheadMs)} ahead of this gateway's clock (${futureDated.now.toISOString()}), beyond ` +
          `the clock drift tolerance of ${formatHours(futureDated.toleranceSeconds * 1000)}: the clock of the ` +
          "user's computer is probably ahead. The rest of the cargo is taken; the user gateway keeps these (they " +
          'are not acknowledged) and is told in the cargo collected next',
      );
    }
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
      items: (async function* () {
        for await (const cargo of cargoes) yield { cargo: cargo.serialized };
      })(),
    };
  }

  // -------------------------------------------------------------------------------------------
  // CogRPC server (couriers)

  private async startCogRPC(cogrpc: CogRPCConfig, hostnames: readonly string[]): Promise<void> {
    const host = cogrpc.address.replace(/:\d+$/, '');
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
      const names = [...new Set([...hostnames, host.replace(/^\[|\]$/g, '')])];
      tls = { stateDir: join(this.config.dataDir, 'cogrpc-tls'), hostnames: names };
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
    await writeFileAtomically(
      cogrpc.publication,
      JSON.stringify({ address: this.cogrpcAddress, tlsCertificatePem: this.cogrpc.certificatePem }, null, 2) + '\n',
      0o644,
    );
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

  /** Nothing is in flight when we start: what the previous run had claimed is due again now (one statement). */
  private async releaseStaleLeases(): Promise<void> {
    const released = await this.stores.parcels.releaseLeases(INTERNET_QUEUE, new Date());
    if (released > 0) this.logger.info({ parcels: released }, 'Parcels claimed by the previous run are due again');
  }

  /**
   * Claim a round of parcels (one commit), start delivering it, and claim the next round meanwhile: up
   * to DELIVERY_ROUNDS_IN_FLIGHT rounds (and DELIVERY_PIPELINE_MAX_BYTES) at once, so that our commits
   * overlap the public endpoints' work instead of waiting for it. Each parcel is deleted only once
   * acknowledged (see deliverGroup).
   */
  private async deliveryLoop(): Promise<void> {
    const rounds = new Set<Promise<void>>();
    let bytesInFlight = 0;
    while (!this.stopped) {
      let claimed: ParcelRecord[] = [];
      try {
        claimed = await this.gateway.nextDeliverables(DELIVERY_BATCH);
      } catch (error) {
        this.logFailure('Delivery round failed', error);
      }
      if (claimed.length > 0) {
        const bytes = claimed.reduce((sum, parcel) => sum + parcel.serialized.length, 0);
        bytesInFlight += bytes;
        const round: Promise<void> = this.deliverRound(claimed)
          .catch((error) => {
            this.logFailure('Delivery round failed', error);
          })
          .finally(() => {
            rounds.delete(round);
            bytesInFlight -= bytes;
          });
        rounds.add(round);
        while (
          rounds.size >= DELIVERY_ROUNDS_IN_FLIGHT ||
          (rounds.size > 0 && bytesInFlight >= DELIVERY_PIPELINE_MAX_BYTES)
        ) {
          await Promise.race(rounds);
        }
      } else if (!this.stopped) {
        await this.notifier.wait(this.abort.signal, this.config.pollIntervalMs);
      }
    }
    await Promise.allSettled(rounds);
  }

  /** Deliver claimed parcels by route; what cannot be delivered now is rescheduled, a commit per kind of outcome. */
  private async deliverRound(claimed: readonly ParcelRecord[]): Promise<void> {
    const groups = new Map<string, { route: Route; parcels: ParcelRecord[] }>();
    const unroutable: ParcelRecord[] = [];
    for (const parcel of claimed) {
      const address = parcel.recipientInternetAddress ?? '';
      let route: Route;
      try {
        route = this.addressBook.resolve(address);
      } catch (error) {
        this.logger.warn({ parcelId: parcel.id, err: errorMessage(error) }, 'Cannot resolve the recipient address');
        unroutable.push(parcel);
        continue;
      }
      const key = `${route.target}\n${JSON.stringify(route.tls)}`;
      const group = groups.get(key) ?? { route, parcels: [] };
      group.parcels.push(parcel);
      groups.set(key, group);
    }
    if (unroutable.length > 0) await this.gateway.markFailedBatch(unroutable);
    await Promise.all(
      [...groups.entries()].map(async ([key, group]) => {
        const blockedUntil = this.routeBackoff.blockedUntil(key);
        if (!blockedUntil) return this.deliverGroup(key, group.route, group.parcels);
        // The route failed a moment ago: these parcels wait for its next try instead of failing one by one.
        await this.stores.writeBatch(
          group.parcels.map((parcel) => ({
            kind: 'reschedule parcel' as const,
            key: { queue: INTERNET_QUEUE, senderId: parcel.senderId, id: parcel.id },
            nextAttemptDate: blockedUntil,
          })),
        );
      }),
    );
  }

  private async deliverGroup(key: string, route: Route, parcels: ParcelRecord[]): Promise<void> {
    let client = this.clients.get(key);
    if (!client) {
      client = new PogRPCClient(route.target, {
        tls: route.tls,
        gatewayAddress: this.publicAddress,
        logger: this.logger,
      });
      this.clients.set(key, client);
    }
    const byDeliveryId = new Map(parcels.map((parcel, index) => [`${index}:${parcel.id}`.slice(0, 255), parcel]));
    const report = await client.deliverParcels(
      [...byDeliveryId.entries()].map(([id, parcel]) => ({ id, parcel: parcel.serialized })),
      { signal: this.abort.signal },
    );
    const acked = new Set(report.acked);
    const delivered: ParcelRecord[] = [];
    const failed: ParcelRecord[] = [];
    for (const [id, parcel] of byDeliveryId) {
      if (acked.has(id)) delivered.push(parcel);
      else if (!this.stopped) failed.push(parcel);
    }
    // One commit for the round's acknowledged parcels (ledger entries and deletions), one for the rest.
    if (delivered.length > 0) await this.gateway.markDeliveredBatch(delivered);
    for (const parcel of delivered) {
      this.logger.info(
        { parcelId: parcel.id, target: route.target, route: route.source },
        'Parcel delivered to public endpoint',
      );
    }
    for (const parcel of failed) {
      this.logger.warn(
        { parcelId: parcel.id, target: route.target, route: route.source, err: report.error?.message },
        'Parcel not acknowledged by public endpoint',
      );
    }
    if (failed.length > 0) await this.gateway.markFailedBatch(failed);
    if (report.error) {
      // Drop the client: the next attempt reconnects (the adapter may have restarted elsewhere). With two rounds
      // in flight, both see the failure of the same client: only the first one counts it.
      if (this.clients.get(key) !== client) return;
      client.close();
      this.clients.delete(key);
      const retryAt = this.routeBackoff.failed(key);
      const fields = {
        target: route.target,
        route: route.source,
        parcels: parcels.length,
        retryAt: retryAt.toISOString(),
        err: report.error.message,
      };
      if ('pinnedCertificatePem' in route.tls && /certificate/i.test(report.error.message)) {
        // A TLS failure says "self-signed certificate" or the like: name the configuration that is wrong.
        this.logger.error(
          {
            ...fields,
            internetAddress: parcels[0]?.recipientInternetAddress,
            expectedSha256: certificateFingerprint(route.tls.pinnedCertificatePem),
          },
          `Public endpoint refused: its TLS certificate is not the one configured for it (${route.source}); its parcels stay queued`,
        );
      } else {
        this.logger.warn(fields, 'Public endpoint unreachable: its parcels wait for the next try');
      }
    } else {
      this.routeBackoff.succeeded(key);
    }
  }

  private async purge(): Promise<void> {
    if (this.stopped) return;
    try {
      // One instance at a time sweeps a shared database; the others skip this round.
      if (this.postgres) await this.postgres.exclusively('purge', async () => void (await this.gateway.purgeExpired()));
      else await this.gateway.purgeExpired();
      await this.registrar.purge();
    } catch (error) {
      this.logFailure('Purging expired messages failed', error);
    }
  }
}
