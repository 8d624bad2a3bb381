import { readFile } from 'node:fs/promises';

import {
  type Certificate,
  errorMessage,
  type KeyPair,
  type Logger,
  silentLogger,
  writeFileAtomically,
} from '@twitter-relaynet/core';

import { type Clock, systemClock } from './clock';
import {
  createCourierRegistrationRequest,
  parseCourierRegistrationRequest,
  REGISTRATION_REQUEST_RENEWAL_MS,
  verifyCourierRegistrationResponse,
} from './courierRegistration';
import { RegistrationError, UnrelatedRegistrationResponseError } from './errors';
import { readRegistrationResponse, type RegistrationResponse } from './registration';
import { type GatewayStores, peerQueue, type RegistrationRecord } from './stores/types';

/**
 * A user gateway's side of its registration, kept in its stores (not in loose files) so that each
 * step commits together with what it implies for the queues.
 *
 * Until the relaying gateway is known, the UserGateway queues parcels for the Internet under its own
 * id (the "placeholder queue": it has no other peer id to use). As soon as the relaying gateway's
 * certificate is known (pinned, or registered), those parcels must go to its queue, or they are
 * never put in cargo. So:
 * - pinning and completing the registration save the record and move the placeholder queue in one
 *   transaction: a crash leaves either the old state with the parcels still in the placeholder, or
 *   the new one with them moved;
 * - `open` moves whatever is in the placeholder queue at every start (parcels of a run that stored one
 *   while the registration was committing, or of a version that lost them);
 * - `UserGateway.generateCargoForRelayingGateway` sweeps it too, for a parcel stored in the placeholder
 *   by a request already under way when the registration committed.
 *
 * The response comes either from the shared registration folder (`completeFromFolder`) or from a courier, as the
 * answer to the request that the courier carried (`courierRequest`, `completeFromCourier`): the request is kept in a
 * file until registered (and after, to recognise a response that arrives late).
 */
export class UserGatewayRegistration {
  private constructor(
    private readonly stores: GatewayStores,
    /** The user gateway's own id (that of its key): its placeholder queue. */
    readonly userGatewayId: string,
    private readonly logger: Logger,
    private current: RegistrationRecord | null,
  ) {}

  /**
   * Load the registration from `stores` (or, if they hold none, `legacy`: what an earlier version kept
   * in files) and move whatever sits in the placeholder queue to the relaying gateway's queue.
   */
  static async open(options: {
    readonly stores: GatewayStores;
    readonly userGatewayId: string;
    readonly logger?: Logger;
    readonly legacy?: RegistrationRecord | null;
  }): Promise<UserGatewayRegistration> {
    const logger = options.logger ?? silentLogger;
    let record = await options.stores.registration.get();
    const registration = new UserGatewayRegistration(options.stores, options.userGatewayId, logger, record);
    if (!record && options.legacy) {
      record = options.legacy;
      await registration.save(record, 'imported from the files of an earlier version');
    } else if (record) {
      const moved = await options.stores.parcels.moveQueue(
        registration.placeholderQueue,
        peerQueue(relayingGatewayIdOf(record)),
      );
      registration.reportMoved(moved, 'at start');
    }
    return registration;
  }

  get record(): RegistrationRecord | null {
    return this.current;
  }

  get isRegistered(): boolean {
    return this.current?.userGatewayCertificate != null;
  }

  get relayingGatewayCertificate(): Certificate | null {
    return this.current?.relayingGatewayCertificate ?? null;
  }

  get userGatewayCertificate(): Certificate | null {
    return this.current?.userGatewayCertificate ?? null;
  }

  /** Where parcels for the Internet wait while the relaying gateway is unknown. */
  get placeholderQueue(): string {
    return peerQueue(this.userGatewayId);
  }

  /** Pin the relaying gateway's certificate, unless one is pinned already; resolves to whether it did. */
  async pin(relayingGatewayCertificate: Certificate): Promise<boolean> {
    if (this.current) return false;
    await this.save({ relayingGatewayCertificate, userGatewayCertificate: null }, 'pinned');
    return true;
  }

  /**
   * Complete the registration with the relaying gateway's response: our certificate, the pin (if none
   * yet) and the queue move, in one commit.
   *
   * @throws RegistrationError if the response comes from another relaying gateway than the pinned one,
   *   or does not certify this gateway.
   */
  async complete(response: RegistrationResponse): Promise<void> {
    const wasPinned = this.current !== null;
    const pinned = this.current?.relayingGatewayCertificate;
    if (pinned && !pinned.isEqual(response.relayingGatewayCertificate)) {
      throw new RegistrationError(
        `The registration response is from relaying gateway ${response.relayingGatewayCertificate.calculateSubjectId()}, ` +
          `not the pinned ${pinned.calculateSubjectId()}; ignored`,
      );
    }
    if (response.userGatewayCertificate.calculateSubjectId() !== this.userGatewayId) {
      throw new RegistrationError(
        `The registration response certifies ${response.userGatewayCertificate.calculateSubjectId()}, not ${this.userGatewayId}`,
      );
    }
    await this.save(
      {
        relayingGatewayCertificate: response.relayingGatewayCertificate,
        userGatewayCertificate: response.userGatewayCertificate,
      },
      'registered',
    );
    if (!wasPinned) {
      this.logger.info(
        { relayingGatewayId: relayingGatewayIdOf(this.current!) },
        'Relaying gateway certificate pinned (from the registration response)',
      );
    }
  }

  /**
   * Complete the registration with the response for `publicKey` in the shared folder `responsesDirectory`, if there
   * is one: resolves to it once committed, or null if there is none yet.
   *
   * @throws RegistrationError if the response is unreadable or does not fit (see `complete`).
   */
  async completeFromFolder(
    responsesDirectory: string,
    publicKey: KeyPair['publicKey'],
  ): Promise<RegistrationResponse | null> {
    const response = await readRegistrationResponse(responsesDirectory, publicKey);
    if (!response) return null;
    await this.complete(response);
    return response;
  }

  /**
   * The request a courier should carry to the relaying gateway, kept in `requestPath`: the one there, unless it is
   * unreadable, for another gateway or due for renewal, in which case a new one (signed with `keyPair`, its
   * certificate from `certificate()`) replaces it. Null once registered: nothing to carry.
   */
  async courierRequest(options: {
    readonly requestPath: string;
    readonly keyPair: KeyPair;
    readonly certificate: () => Promise<Certificate>;
    readonly clock?: Clock;
  }): Promise<Buffer | null> {
    if (this.isRegistered) return null;
    const { requestPath } = options;
    const clock = options.clock ?? systemClock;
    const existing = await readFile(requestPath).catch(() => null);
    if (existing) {
      try {
        const request = await parseCourierRegistrationRequest(existing);
        const fresh = clock.now().getTime() - request.creationDate.getTime() < REGISTRATION_REQUEST_RENEWAL_MS;
        if (fresh && request.userGatewayId === this.userGatewayId) return existing;
      } catch (error) {
        this.logger.warn(
          { file: requestPath, err: errorMessage(error) },
          'Unreadable courier registration request: making a new one',
        );
      }
    }
    const request = await createCourierRegistrationRequest(
      { keyPair: options.keyPair, certificate: await options.certificate() },
      clock,
    );
    await writeFileAtomically(requestPath, request, 0o600);
    this.logger.info({ file: requestPath }, 'Courier registration request made');
    return request;
  }

  /**
   * A response that a courier brought: checked against the pending request in `requestPath`, then committed as
   * `complete` does. Resolves to it, or to null if this gateway was registered already (a second trip with the same
   * answer: nothing to do).
   *
   * @throws RegistrationResponseRefusedError (for good) if it is not the genuine answer to the pending request, or
   *   there is no pending request.
   */
  async completeFromCourier(serialized: Buffer, requestPath: string): Promise<RegistrationResponse | null> {
    const pendingRequest = await readFile(requestPath).catch(() => null);
    if (!pendingRequest) {
      throw new UnrelatedRegistrationResponseError('This user gateway has no pending registration request');
    }
    const response = await verifyCourierRegistrationResponse(serialized, {
      pendingRequest,
      userGatewayId: this.userGatewayId,
      pinned: this.relayingGatewayCertificate,
    });
    if (this.isRegistered) {
      this.logger.info({}, 'Courier registration response taken: already registered');
      return null;
    }
    await this.complete(response);
    return response;
  }

  private async save(record: RegistrationRecord, why: string): Promise<void> {
    const moved = await this.stores.registration.save(record, {
      from: this.placeholderQueue,
      to: peerQueue(relayingGatewayIdOf(record)),
    });
    this.current = record;
    this.reportMoved(moved, why);
  }

  private reportMoved(moved: number, when: string): void {
    if (moved === 0) return;
    this.logger.info(
      { moved, relayingGatewayId: relayingGatewayIdOf(this.current!) },
      `Parcels queued before the relaying gateway was known moved to its queue (${when})`,
    );
  }
}

function relayingGatewayIdOf(record: RegistrationRecord): string {
  return record.relayingGatewayCertificate.calculateSubjectId();
}
