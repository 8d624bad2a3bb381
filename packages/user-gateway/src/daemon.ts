/**
 * The user gateway daemon: a UserGateway (packages/gateway) behind a PoWebSocket server for the
 * local endpoints and a CoSocket server for the relay, both Unix sockets in its data directory,
 * plus the file-based registration with the relaying gateway.
 */
import { rm } from 'node:fs/promises';
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
  ensurePrivateDirectory,
  IntervalPoller,
  loadOrCreateKeyPair,
  Notifier,
  readCertificate,
  StatusFile,
  writeCertificate,
} from '@twitter-relaynet/daemon-kit';
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
  CargoRefusedError,
  ClockSkewMonitor,
  LOCAL_QUEUE,
  ParcelRefusedError,
  RegistrationResponseRefusedError,
  type RegistrationResponse,
  type RegistrationRecord,
  selfIssueGatewayCertificate,
  type SqliteGatewayStores,
  openGatewaySqliteStores,
  UserGateway,
  UserGatewayRegistration,
  writeRegistrationRequest,
} from '@twitter-relaynet/gateway';
import { PoWebSocketServer, RegistrationRefusedError, makeHandshakeVerifier } from '@twitter-relaynet/powebsocket';

import type { UserGatewayConfig } from './config';

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
  private registrationFolder: IntervalPoller | null = null;
  private purging: IntervalPoller | null = null;
  /** Registration steps (shared folder, courier) one at a time: each reads what the previous one committed. */
  private registrationStep: Promise<unknown> = Promise.resolve();
  private provisionalCertificate: Certificate | null = null;
  private stopped = false;
  /** Aborted by stop(): ends keep-alive parcel collections. */
  private readonly abort = new AbortController();
  private readonly notifier = new Notifier();
  private readonly logger: Logger;
  private readonly config: UserGatewayConfig;
  private lastPollError = '';
  private clockSkew!: ClockSkewMonitor;
  private clockStatusFile!: StatusFile;

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
      if (!(await this.inRegistrationStep(() => this.completeRegistration()))) {
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
      parcelSource: (endpointIds, signal, { keepAlive }) =>
        this.gateway.collectParcels(endpointIds, {
          signal: AbortSignal.any([signal, this.abort.signal]),
          keepAlive,
          waitForParcels: (wait, timeoutMs) => this.notifier.wait(wait, timeoutMs),
        }),
    });
    this.cosocket = await createCoSocketServer({
      socketPath: config.cosocketSocket,
      logger: this.logger,
      onCargoDelivered: (cargo, deliveryId) => this.receiveCargo(cargo, deliveryId),
      onCargoCollectionRequest: (cca) => this.collectCargo(cca),
      onRegistrationExchange: (body) => this.courierRegistrationExchange(body),
    });

    if (!this.registration.isRegistered) {
      this.registrationFolder = new IntervalPoller({
        intervalMs: config.pollIntervalMs,
        // A response that keeps failing (unreadable, from another relaying gateway) is looked at less and less often.
        backoff: { initialDelayMs: config.pollIntervalMs, maxDelayMs: 30 * config.pollIntervalMs },
        task: () => this.inRegistrationStep(() => this.completeRegistration()),
        onError: (error) => {
          const message = error instanceof Error ? error.message : String(error);
          if (message !== this.lastPollError) this.logger.error({ err: message }, 'Registration failed');
          this.lastPollError = message;
        },
      }).start();
    }
    this.purging = new IntervalPoller({
      intervalMs: PURGE_INTERVAL_MS,
      task: () => this.gateway.purgeExpired(),
      onError: (error) => this.logger.error({ err: errorMessage(error) }, 'Purging expired messages failed'),
    }).start({ immediately: true });
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
    this.abort.abort();
    await Promise.allSettled([this.registrationFolder?.stop(), this.purging?.stop()]);
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
      onClockSkewNotice: (notice) => {
        if (this.clockSkew.noticeReceived(notice)) void this.publishClockStatus();
      },
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

  /**
   * Pin the relaying gateway's published certificate if none is, then complete the registration with the response
   * in the shared folder, if there is one; resolves to whether we are registered now.
   */
  private async completeRegistration(): Promise<boolean> {
    if (this.registration.isRegistered) return true;
    await this.pinPublishedRelayingGatewayCertificate();
    const responses = join(this.config.registrationDir, 'responses');
    const response = await this.registration.completeFromFolder(responses, this.keyPair.publicKey);
    if (response) await this.registered(response, 'the registration folder');
    return response !== null;
  }

  /** The registration is committed (with the queue move, one transaction): rebuild the gateway on it, publish it. */
  private async registered(response: RegistrationResponse, via: string): Promise<void> {
    this.buildGateway(response.userGatewayCertificate, response.relayingGatewayCertificate);
    await this.publishRegistration();
    void this.registrationFolder?.stop(); // not awaited: this may be its own run
    await rm(this.path(FILES.provisionalCertificate), { force: true });
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
    const requestPath = this.path(FILES.courierRegistrationRequest);
    return this.inRegistrationStep(async () => {
      if (body.length === 0) {
        const request = await this.registration.courierRequest({
          requestPath,
          keyPair: this.keyPair,
          certificate: async () => this.provisionalCertificate ?? (await selfIssueGatewayCertificate(this.keyPair)),
        });
        return request ?? Buffer.alloc(0);
      }
      let response: RegistrationResponse | null;
      try {
        response = await this.registration.completeFromCourier(body, requestPath);
      } catch (error) {
        if (!(error instanceof RegistrationResponseRefusedError)) throw error;
        this.logger.warn({ err: error.message, refusal: error.name }, 'Courier registration response refused');
        throw new CoSocketRefusalError(error.message, RefusalDisposition.FINAL);
      }
      if (response) await this.registered(response, 'a courier');
      return Buffer.alloc(0);
    });
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
    const watch = this.clockSkew.watchCargo();
    let receipt;
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
    // Future-dated parcels are not acknowledged: the relaying gateway sends them again (clockSkew.ts in packages/gateway).
    this.clockSkew.cargoTaken(watch, receipt, { deliveryId });
    await this.publishClockStatus();
  }

  // -------------------------------------------------------------------------------------------
  // Clock status (packages/config/src/clockStatus.ts), published for the app

  private loadClockStatus(): void {
    const path = join(dirname(this.config.powebsocketSocket), CLOCK_STATUS_FILE); // beside the socket, for the app
    let status: ClockStatus = {};
    let current: string | undefined;
    try {
      status = readClockStatus(path);
      current = serializeClockStatus(status);
    } catch (error) {
      this.logger.warn({ file: path, err: errorMessage(error) }, 'Unreadable clock status file: starting afresh');
    }
    for (const line of describeClockStatus(status)) this.logger.warn({ file: path }, line);
    this.clockStatusFile = new StatusFile(path, this.logger, 'clock status', current);
    this.clockSkew = new ClockSkewMonitor(
      status,
      this.logger,
      (notice) => describeClockStatus({ internet: notice })[0],
    );
  }

  private publishClockStatus(): Promise<void> {
    const status = this.clockSkew.status;
    return this.clockStatusFile.publish(status.internet || status.local ? serializeClockStatus(status) : null);
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
    return {
      gatewayAddress: this.gateway.relayingGatewayId,
      items: this.gateway.collectionForRelayingGateway(),
    };
  }
}
