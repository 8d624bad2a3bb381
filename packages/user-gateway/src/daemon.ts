/**
 * The user gateway daemon: a UserGateway (packages/gateway) behind a PoWebSocket server for the
 * local endpoints and a CoSocket server for the relay, both Unix sockets in its data directory,
 * plus the file-based registration with the relaying gateway.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import {
  type Certificate,
  derDeserializeRsaPublicKey,
  errorMessage,
  getIdFromIdentityKey,
  type KeyPair,
  type Logger,
  writeFileAtomically,
} from '@twitter-relaynet/core';
import {
  CoSocketRefusalError,
  createCoSocketServer,
  type CoSocketServer,
  RefusalDisposition,
} from '@twitter-relaynet/cosocket';
import {
  CLOCK_STATUS_FILE,
  type ClockStatus,
  describeClockStatus,
  readClockStatus,
  REGISTRATION_STATUS_FILE,
  serializeClockStatus,
  serializeRegistrationStatus,
} from '@twitter-relaynet/config';
import {
  type CargoReceipt,
  CargoRefusedError,
  type ClockSkewNotice,
  createCourierRegistrationRequest,
  parseCourierRegistrationRequest,
  REGISTRATION_REQUEST_RENEWAL_MS,
  RegistrationResponseRefusedError,
  type RegistrationResponse,
  verifyCourierRegistrationResponse,
  formatHours,
  LOCAL_QUEUE,
  ParcelRefusedError,
  readRegistrationResponse,
  type RegistrationRecord,
  selfIssueGatewayCertificate,
  type SqliteGatewayStores,
  openGatewaySqliteStores,
  UserGateway,
  UserGatewayRegistration,
  writeRegistrationRequest,
} from '@twitter-relaynet/gateway';
import {
  type OutgoingParcel,
  PoWebSocketServer,
  RegistrationRefusedError,
  makeHandshakeVerifier,
} from '@twitter-relaynet/powebsocket';

import type { UserGatewayConfig } from './config';
import { ensurePrivateDirectory, loadOrCreateKeyPair, readCertificate, writeCertificate } from './files';
import { Notifier } from './notifier';

/** File names in the data directory. */
export const FILES = {
  key: 'identity-key.pem',
  /** Self-issued, used (to certify endpoints) only until the relaying gateway's certificate arrives. */
  provisionalCertificate: 'provisional-certificate.pem',
  /**
   * Copies of the registration, for people and tools to read: the database holds the registration
   * (UserGatewayRegistration). Read only to import the registration of an earlier version.
   */
  certificate: 'identity-certificate.pem',
  relayingGatewayCertificate: 'relaying-gateway-certificate.pem',
  /**
   * The registration request a courier carries (packages/gateway courierRegistration.ts): made once and
   * handed out until registered, kept after, to recognise a response that arrives late.
   */
  courierRegistrationRequest: 'courier-registration-request.der',
  database: 'gateway.sqlite',
} as const;

/** How long a keep-alive collection waits for news before looking at the queue again. */
const KEEP_ALIVE_RECHECK_MS = 5_000;
const PURGE_INTERVAL_MS = 60 * 60 * 1000;

export interface UserGatewayDaemonOptions {
  readonly config: UserGatewayConfig;
  readonly logger: Logger;
  /** Where the start-up banner goes (stdout). */
  readonly print?: (line: string) => void;
}

export class UserGatewayDaemon {
  private keyPair!: KeyPair;
  private stores!: SqliteGatewayStores;
  private gatewayInstance!: UserGateway;
  private registration!: UserGatewayRegistration;
  private powebsocket: PoWebSocketServer | null = null;
  private cosocket: CoSocketServer | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private polling: Promise<void> | null = null;
  /** Registration steps (shared folder, courier) one at a time: each reads what the previous one committed. */
  private registrationStep: Promise<unknown> = Promise.resolve();
  private provisionalCertificate: Certificate | null = null;
  private stopped = false;
  private readonly notifier = new Notifier();
  private readonly logger: Logger;
  private readonly config: UserGatewayConfig;
  private lastPollError = '';
  private clockStatus: ClockStatus = {};
  /** What the file holds (null: unknown, e.g. it was unreadable). */
  private publishedClockStatus: string | null = null;
  private clockStatusWrite: Promise<void> = Promise.resolve();
  /** "Refused" clock skew notices read so far (to know whether a cargo held one). */
  private refusalNoticesRead = 0;

  constructor(private readonly options: UserGatewayDaemonOptions) {
    this.logger = options.logger;
    this.config = options.config;
  }

  get gateway(): UserGateway {
    return this.gatewayInstance;
  }

  get isRegistered(): boolean {
    return this.registration.isRegistered;
  }

  private path(name: string): string {
    return join(this.config.dataDir, name);
  }

  /** Beside the PoWebSocket socket, where the app looks for it. */
  private get clockStatusPath(): string {
    return join(dirname(this.config.powebsocketSocket), CLOCK_STATUS_FILE);
  }

  async start(): Promise<void> {
    const { config } = this;
    ensurePrivateDirectory(config.dataDir);
    const { keyPair, created } = await loadOrCreateKeyPair(this.path(FILES.key));
    this.keyPair = keyPair;
    if (created) this.logger.info({ file: this.path(FILES.key) }, 'Identity key generated');
    this.stores = openGatewaySqliteStores(this.path(FILES.database));
    this.loadClockStatus();

    this.registration = await UserGatewayRegistration.open({
      stores: this.stores,
      userGatewayId: getIdFromIdentityKey(keyPair.publicKey),
      logger: this.logger,
      legacy: this.readLegacyRegistration(),
    });
    await this.publishRegistration();
    const { userGatewayCertificate, relayingGatewayCertificate } = this.registration;
    if (userGatewayCertificate && relayingGatewayCertificate) {
      this.buildGateway(userGatewayCertificate, relayingGatewayCertificate);
    } else {
      await this.pinPublishedRelayingGatewayCertificate();
      let provisional = readCertificate(this.path(FILES.provisionalCertificate));
      if (!provisional) {
        provisional = await selfIssueGatewayCertificate(keyPair);
        await writeCertificate(this.path(FILES.provisionalCertificate), provisional, 0o600);
      }
      this.provisionalCertificate = provisional;
      this.buildGateway(provisional, this.registration.relayingGatewayCertificate ?? provisional);
      if (!(await this.completeRegistration())) {
        const request = await writeRegistrationRequest(join(config.registrationDir, 'requests'), keyPair.publicKey);
        this.logger.warn(
          { request, responses: join(config.registrationDir, 'responses') },
          'Not registered with a relaying gateway yet: endpoints are served and parcels queued, but cargo ' +
            'cannot be made until the registration response arrives',
        );
      }
    }

    this.powebsocket = await PoWebSocketServer.listen({
      socketPath: config.powebsocketSocket,
      logger: this.logger,
      // Both our certificates (provisional and issued) have the same key and name, so an endpoint
      // certificate issued under either verifies against the current one.
      verify: (nonce, signatures) => makeHandshakeVerifier(this.gateway.certificate)(nonce, signatures),
      issueEndpointCertificate: (publicKey) => this.issueEndpointCertificate(publicKey),
      onParcelDelivered: (parcel) => this.receiveParcelFromEndpoint(parcel),
      parcelSource: (endpointIds, signal, { keepAlive }) => this.parcelSource(endpointIds, signal, keepAlive),
    });
    this.cosocket = await createCoSocketServer({
      socketPath: config.cosocketSocket,
      logger: this.logger,
      onCargoDelivered: (cargo, deliveryId) => this.receiveCargo(cargo, deliveryId),
      onCargoCollectionRequest: (cca) => this.collectCargo(cca),
      onRegistrationExchange: (body) => this.courierRegistrationExchange(body),
    });

    if (!this.registration.isRegistered) {
      this.timers.push(setInterval(() => void this.pollRegistration(), config.pollIntervalMs));
    }
    this.timers.push(setInterval(() => void this.purge(), PURGE_INTERVAL_MS));
    void this.purge();
    this.printBanner();
  }

  private printBanner(): void {
    const print = this.options.print ?? ((line: string) => process.stdout.write(line + '\n'));
    const { config } = this;
    print(`user-gateway: node id ${this.gateway.id}`);
    print(`user-gateway: PoWebSocket (endpoints): ${config.powebsocketSocket}`);
    print(`user-gateway: CoSocket (relay): ${config.cosocketSocket}`);
    print(`user-gateway: data directory: ${config.dataDir}`);
    if (this.registration.isRegistered) {
      print(`user-gateway: registered with relaying gateway ${this.gateway.relayingGatewayId}`);
    } else {
      print(
        `user-gateway: not registered yet: waiting for the response in ${join(config.registrationDir, 'responses')}` +
          ' or from a courier (bin/relay user-gateway) (cargo cannot be made until then)',
      );
    }
    print('user-gateway: ready');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.notifier.notify();
    await this.polling;
    await Promise.allSettled([this.powebsocket?.close(), this.cosocket?.close()]);
    await this.stores?.close();
    this.logger.info({}, 'User gateway stopped');
  }

  // -------------------------------------------------------------------------------------------
  // Registration

  private buildGateway(certificate: Certificate, relayingGatewayCertificate: Certificate): void {
    this.gatewayInstance = new UserGateway({
      identity: { privateKey: this.keyPair.privateKey, certificate },
      relayingGateway: { certificate: relayingGatewayCertificate },
      stores: this.stores,
      logger: this.logger,
      onClockSkewNotice: (notice) => this.onClockSkewNotice(notice),
    });
  }

  /** The registration an earlier version kept in files only (both: registered; the pin alone: pinned). */
  private readLegacyRegistration(): RegistrationRecord | null {
    const relayingGatewayCertificate = readCertificate(this.path(FILES.relayingGatewayCertificate));
    if (!relayingGatewayCertificate) return null;
    return { relayingGatewayCertificate, userGatewayCertificate: readCertificate(this.path(FILES.certificate)) };
  }

  /**
   * After each registration step is committed: the certificates' copies, and the status beside both
   * sockets (packages/config registrationStatus.ts) for the app and the relay. A crash before this is
   * made good at the next start.
   */
  private async publishRegistration(): Promise<void> {
    const { userGatewayCertificate, relayingGatewayCertificate } = this.registration;
    const status = serializeRegistrationStatus({
      registered: this.registration.isRegistered,
      registrationDir: this.config.registrationDir,
    });
    const folders = new Set([dirname(this.config.powebsocketSocket), dirname(this.config.cosocketSocket)]);
    try {
      if (relayingGatewayCertificate)
        await writeCertificate(this.path(FILES.relayingGatewayCertificate), relayingGatewayCertificate);
      if (userGatewayCertificate) await writeCertificate(this.path(FILES.certificate), userGatewayCertificate);
      for (const folder of folders) await writeFileAtomically(join(folder, REGISTRATION_STATUS_FILE), status, 0o644);
    } catch (error) {
      // The registration itself is committed; only what others read of it is stale until the next start.
      this.logger.error({ err: errorMessage(error) }, 'Could not publish the registration');
    }
  }

  /** Pin the certificate the relaying gateway published in the data root, if there is one and none is pinned. */
  private async pinPublishedRelayingGatewayCertificate(): Promise<void> {
    if (this.registration.relayingGatewayCertificate) return;
    let published: Certificate | null;
    try {
      published = readCertificate(this.config.relayingGatewayCertificate);
    } catch (error) {
      this.logger.warn(
        { file: this.config.relayingGatewayCertificate, err: errorMessage(error) },
        'Unreadable relaying gateway certificate',
      );
      return;
    }
    if (!published || !(await this.registration.pin(published))) return;
    await this.publishRegistration();
    this.logger.info(
      { relayingGatewayId: published.calculateSubjectId(), file: this.config.relayingGatewayCertificate },
      'Relaying gateway certificate pinned (published in the data root)',
    );
  }

  /** Run a registration step after the previous one. */
  private inRegistrationStep<T>(step: () => Promise<T>): Promise<T> {
    const next = this.registrationStep.then(step);
    this.registrationStep = next.catch(() => undefined);
    return next;
  }

  private pollRegistration(): Promise<void> {
    if (this.polling || this.stopped || this.registration.isRegistered) return this.polling ?? Promise.resolve();
    this.polling = (async () => {
      try {
        await this.inRegistrationStep(async () => {
          if (this.registration.isRegistered) return;
          await this.pinPublishedRelayingGatewayCertificate();
          await this.completeRegistration();
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (message !== this.lastPollError) this.logger.error({ err: message }, 'Registration failed');
        this.lastPollError = message;
      } finally {
        this.polling = null;
      }
    })();
    return this.polling;
  }

  /** Read the registration response in the shared folder, if there is one; resolves to whether we are registered now. */
  private async completeRegistration(): Promise<boolean> {
    const responses = join(this.config.registrationDir, 'responses');
    const response = await readRegistrationResponse(responses, this.keyPair.publicKey);
    if (!response) return false;
    await this.applyRegistrationResponse(response);
    return true;
  }

  /** Commit the registration (with the queue move, one transaction), then rebuild the gateway on it. */
  private async applyRegistrationResponse(
    response: RegistrationResponse,
    via = 'the registration folder',
  ): Promise<void> {
    const wasPinned = this.registration.relayingGatewayCertificate !== null;
    await this.registration.complete(response);
    if (!wasPinned) {
      this.logger.info(
        { relayingGatewayId: response.relayingGatewayCertificate.calculateSubjectId() },
        'Relaying gateway certificate pinned (from the registration response)',
      );
    }
    this.buildGateway(response.userGatewayCertificate, response.relayingGatewayCertificate);
    await this.publishRegistration();
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.timers.push(setInterval(() => void this.purge(), PURGE_INTERVAL_MS));
    const provisional = this.path(FILES.provisionalCertificate);
    if (existsSync(provisional)) unlinkSync(provisional);
    this.logger.info(
      {
        relayingGatewayId: this.gateway.relayingGatewayId,
        expiryDate: response.userGatewayCertificate.expiryDate.toISOString(),
        via,
      },
      'Registered with the relaying gateway',
    );
  }

  /**
   * The relay's Registration Exchange (CoSocket extension): an empty body asks for the request a courier
   * should carry (empty answer: registered, nothing to carry); any other body is the relaying gateway's
   * response, answered with an empty body once the registration is committed (or was already), or refused
   * for good if it is not the genuine answer to our pending request.
   */
  private courierRegistrationExchange(body: Buffer): Promise<Buffer> {
    return this.inRegistrationStep(async () => {
      if (body.length === 0) {
        if (this.registration.isRegistered) return Buffer.alloc(0);
        return this.pendingCourierRequest();
      }
      const pendingRequest = await readFile(this.path(FILES.courierRegistrationRequest)).catch(() => null);
      if (!pendingRequest) {
        this.logger.warn({}, 'Courier registration response refused: this gateway has no pending request');
        throw new CoSocketRefusalError(
          'This user gateway has no pending registration request',
          RefusalDisposition.FINAL,
        );
      }
      let response: RegistrationResponse;
      try {
        response = await verifyCourierRegistrationResponse(body, {
          pendingRequest,
          userGatewayId: this.registration.userGatewayId,
          pinned: this.registration.relayingGatewayCertificate,
        });
      } catch (error) {
        if (!(error instanceof RegistrationResponseRefusedError)) throw error;
        this.logger.warn({ err: error.message, refusal: error.name }, 'Courier registration response refused');
        throw new CoSocketRefusalError(error.message, RefusalDisposition.FINAL);
      }
      if (this.registration.isRegistered) {
        // A second trip with the same answer (e.g. the relay was killed before deleting its copy): nothing to do.
        this.logger.info({}, 'Courier registration response taken: already registered');
        return Buffer.alloc(0);
      }
      await this.applyRegistrationResponse(response, 'a courier');
      return Buffer.alloc(0);
    });
  }

  /** Our pending request, made now if there is none (or it is too old to be answered soon). */
  private async pendingCourierRequest(): Promise<Buffer> {
    const path = this.path(FILES.courierRegistrationRequest);
    const existing = await readFile(path).catch(() => null);
    if (existing) {
      try {
        const request = await parseCourierRegistrationRequest(existing);
        const fresh = Date.now() - request.creationDate.getTime() < REGISTRATION_REQUEST_RENEWAL_MS;
        if (fresh && request.userGatewayId === this.registration.userGatewayId) return existing;
      } catch (error) {
        this.logger.warn(
          { file: path, err: errorMessage(error) },
          'Unreadable courier registration request: making a new one',
        );
      }
    }
    const certificate = this.provisionalCertificate ?? (await selfIssueGatewayCertificate(this.keyPair));
    const request = await createCourierRegistrationRequest({ keyPair: this.keyPair, certificate });
    await writeFileAtomically(path, request, 0o600);
    this.logger.info({ file: path }, 'Courier registration request made');
    return request;
  }

  // -------------------------------------------------------------------------------------------
  // PoWebSocket

  private async issueEndpointCertificate(publicKeyDer: Buffer) {
    let publicKey;
    try {
      publicKey = derDeserializeRsaPublicKey(publicKeyDer);
    } catch (error) {
      throw new RegistrationRefusedError(`Unacceptable endpoint key: ${(error as Error).message}`);
    }
    const gateway = this.gateway;
    const certificate = await gateway.registerEndpoint(publicKey);
    return { endpointCertificate: certificate.serialize(), gatewayCertificate: gateway.certificate.serialize() };
  }

  private async receiveParcelFromEndpoint(parcel: Buffer): Promise<void> {
    try {
      const acceptance = await this.gateway.receiveParcelFromEndpoint(parcel);
      if (acceptance.key.queue === LOCAL_QUEUE) this.notifier.notify();
    } catch (error) {
      // Permanently refused and logged (by the gateway): acknowledged so the endpoint stops resending it.
      if (error instanceof ParcelRefusedError) return;
      throw error;
    }
  }

  private async *parcelSource(
    endpointIds: readonly string[],
    signal: AbortSignal,
    keepAlive: boolean,
  ): AsyncGenerator<OutgoingParcel> {
    const sent = new Set<string>();
    while (!signal.aborted && !this.stopped) {
      for (const endpointId of endpointIds) {
        for await (const record of this.gateway.listParcelsForEndpoint(endpointId)) {
          if (signal.aborted) return;
          const key = `${record.senderId}\n${record.id}`;
          if (sent.has(key)) continue;
          sent.add(key);
          yield {
            parcel: record.serialized,
            ack: async () => {
              await this.gateway.markParcelCollected(endpointId, record.senderId, record.id);
            },
            nack: () => {
              sent.delete(key);
            },
          };
        }
      }
      if (!keepAlive) return;
      await this.notifier.wait(signal, KEEP_ALIVE_RECHECK_MS);
    }
  }

  // -------------------------------------------------------------------------------------------
  // CoSocket

  private async receiveCargo(cargo: Buffer, deliveryId: string): Promise<void> {
    if (!this.registration.isRegistered) {
      this.logger.warn({ deliveryId }, 'Cargo not taken: not registered with the relaying gateway yet');
      // For now: the relay keeps the file and brings it again once the registration is through.
      throw new CoSocketRefusalError(
        'The user gateway is not registered with its relaying gateway yet',
        RefusalDisposition.LATER,
      );
    }
    const refusalsBefore = this.refusalNoticesRead;
    let receipt: CargoReceipt;
    try {
      receipt = await this.gateway.receiveCargo(cargo);
      this.notifier.notify();
    } catch (error) {
      // Refused as a whole and logged by the gateway, for good: the relay is told why (or, if it cannot
      // be told, the cargo is acknowledged so that it is not carried forever).
      if (error instanceof CargoRefusedError) {
        throw new CoSocketRefusalError(`Cargo refused: ${error.message}`, RefusalDisposition.FINAL);
      }
      throw error;
    }
    const { futureDated } = receipt;
    let { local, internet } = this.clockStatus;
    if (futureDated) {
      // Not acknowledged: the relaying gateway keeps them and sends them again (see clockSkew.ts in packages/gateway).
      this.logger.error(
        {
          deliveryId,
          cargoId: futureDated.cargoId,
          parcelIds: futureDated.parcelIds,
          latestDate: futureDated.latest.toISOString(),
        },
        `Parcels not taken: ${futureDated.parcelIds.length} parcel(s) in this cargo are dated ` +
          `${formatHours(futureDated.aheadMs)} ahead of this computer's clock (${futureDated.now.toISOString()}), beyond ` +
          `the clock drift tolerance of ${formatHours(futureDated.toleranceSeconds * 1000)}: is this computer's clock ` +
          'right? The rest of the cargo is taken; these come again with the next courier',
      );
      local = {
        at: futureDated.now,
        aheadMs: Math.max(1, Math.round(futureDated.aheadMs)),
        parcelCount: futureDated.parcelIds.length,
        toleranceSeconds: futureDated.toleranceSeconds,
      };
    } else {
      local = undefined; // the Internet's dates are fine by this clock (again)
    }
    if (
      internet?.status === 'refused' &&
      receipt.acknowledgedParcels.length &&
      this.refusalNoticesRead === refusalsBefore
    ) {
      // The relaying gateway took parcels of ours and did not complain in the same cargo: its "resolved"
      // notice may never come (if it was reset after refusing), so its acknowledgements say it instead.
      this.logger.info({ deliveryId }, 'The relaying gateway takes parcels from this computer again');
      internet = undefined;
    }
    await this.updateClockStatus({ ...(internet && { internet }), ...(local && { local }) });
  }

  // -------------------------------------------------------------------------------------------
  // Clock status (packages/config/src/clockStatus.ts), published for the app

  private loadClockStatus(): void {
    try {
      this.clockStatus = readClockStatus(this.clockStatusPath);
      this.publishedClockStatus = serializeClockStatus(this.clockStatus);
    } catch (error) {
      this.logger.warn(
        { file: this.clockStatusPath, err: errorMessage(error) },
        'Unreadable clock status file: starting afresh',
      );
      this.clockStatus = {};
    }
    for (const line of describeClockStatus(this.clockStatus)) this.logger.warn({ file: this.clockStatusPath }, line);
  }

  /** A notice from the relaying gateway, read from its cargo: the latest one (by its clock) wins. */
  private onClockSkewNotice(notice: ClockSkewNotice): void {
    const current = this.clockStatus.internet;
    if (current && current.at > notice.at) return;
    if (notice.status === 'refused') {
      this.refusalNoticesRead += 1;
      this.logger.warn(
        { at: notice.at.toISOString(), aheadMs: notice.aheadMs },
        describeClockStatus({ internet: notice })[0],
      );
    } else {
      this.logger.info({ at: notice.at.toISOString() }, 'The relaying gateway takes cargo from this computer again');
    }
    void this.updateClockStatus({ ...this.clockStatus, internet: notice });
  }

  /** Writes are chained, each publishing the latest status unless the file already holds it. */
  private async updateClockStatus(status: ClockStatus): Promise<void> {
    this.clockStatus = status;
    this.clockStatusWrite = this.clockStatusWrite.then(async () => {
      const latest = serializeClockStatus(this.clockStatus);
      if (latest === this.publishedClockStatus) return;
      try {
        if (!this.clockStatus.internet && !this.clockStatus.local) await rm(this.clockStatusPath, { force: true });
        else await writeFileAtomically(this.clockStatusPath, latest, 0o644);
        this.publishedClockStatus = latest;
      } catch (error) {
        this.logger.error(
          { file: this.clockStatusPath, err: errorMessage(error) },
          'Could not publish the clock status',
        );
      }
    });
    await this.clockStatusWrite;
  }

  private async collectCargo(cca: Buffer | null) {
    if (cca) {
      throw new CoSocketRefusalError('The user gateway takes no CCA: collect without one', RefusalDisposition.LATER);
    }
    if (!this.registration.isRegistered) {
      this.logger.warn(
        {},
        'Collection without cargo: not registered with the relaying gateway yet, so no cargo or CCA can be made',
      );
      return { items: [] };
    }
    const gateway = this.gateway;
    return {
      gatewayAddress: gateway.relayingGatewayId,
      items: (async function* () {
        // The CCA first: even if the collection breaks off, the relay can fetch the cargo for us.
        yield { cca: await gateway.generateCca() };
        for await (const cargo of gateway.generateCargoForRelayingGateway()) {
          yield { cargo: cargo.serialized };
        }
      })(),
    };
  }

  private async purge(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.gateway.purgeExpired();
    } catch (error) {
      this.logger.error({ err: errorMessage(error) }, 'Purging expired messages failed');
    }
  }
}
