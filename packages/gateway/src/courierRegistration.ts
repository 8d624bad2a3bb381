/**
 * Registration of a user gateway through a courier alone (no folder shared with the relaying gateway).
 *
 * The request is a CMS SignedData signed by the key it registers (proof of possession, as Awala's
 * PrivateNodeRegistrationRequest), over `{ type, publicKey, nonce, creationDate }`. The response is a
 * SignedData signed by the relaying gateway, its self-issued certificate attached, over
 * `{ type, requestDigest, nonce, userGatewayCertificate }`: the SHA-256 of the exact request it answers
 * binds it to that request, so the user gateway takes only the answer to its own pending request.
 *
 * Replays: a relaying gateway answers the same request (same bytes) with the same response, stored the
 * first time, and never issues a second certificate for it. Refusing it instead would strand a user
 * gateway whose relay was killed after the relaying gateway answered and before the response reached the
 * flashdrive. A replayer gains nothing: the response holds a certificate for a key it does not have, and
 * the same certificate travels in every cargo anyway. A request changed in any way fails its signature.
 * The creation date bounds how long answers must be remembered: older requests are refused.
 */
import { createHash, randomBytes } from 'node:crypto';

import {
  Certificate,
  derDeserializeRsaPublicKey,
  derSerializePublicKey,
  getIdFromIdentityKey,
  type KeyPair,
  type Logger,
  signSignedData,
  silentLogger,
  verifySignedData,
} from '@twitter-relaynet/core';

import { type Clock, systemClock } from './clock';
import {
  MalformedRegistrationRequestError,
  MalformedRegistrationResponseError,
  RegistrationRequestTimingError,
  UnrelatedRegistrationResponseError,
} from './errors';
import type { RegistrationResponse } from './registration';
import type { RelayingGateway } from './RelayingGateway';
import type { CourierAnswerStore } from './stores/types';

const REQUEST_TYPE = 'courier-registration-request';
const RESPONSE_TYPE = 'courier-registration-response';
const NONCE_LENGTH = 16;
/** Requests older than this are refused, so answers are remembered this long (and a week more). */
export const REGISTRATION_REQUEST_MAX_AGE_MS = 90 * 24 * 60 * 60 * 1000;
/** A user gateway makes a fresh request once its pending one is this old, leaving 60 days for the trips. */
export const REGISTRATION_REQUEST_RENEWAL_MS = 30 * 24 * 60 * 60 * 1000;
/**
 * How far ahead of the relaying gateway's clock a request may be dated. Generous: a user's clock that is
 * off by days must not keep the gateway from registering (issue 13 item 2 has such clocks).
 */
export const REGISTRATION_REQUEST_MAX_FUTURE_MS = 7 * 24 * 60 * 60 * 1000;
const ANSWER_RETENTION_MS = REGISTRATION_REQUEST_MAX_AGE_MS + 7 * 24 * 60 * 60 * 1000;

export interface CourierRegistrationRequest {
  readonly userGatewayId: string;
  readonly publicKey: Buffer;
  readonly nonce: Buffer;
  readonly creationDate: Date;
  /** SHA-256 of the serialized request, which the response names. */
  readonly digest: Buffer;
}

interface RequestPlaintext {
  readonly type: string;
  readonly publicKey: string;
  readonly nonce: string;
  readonly creationDate: string;
}

interface ResponsePlaintext {
  readonly type: string;
  readonly requestDigest: string;
  readonly nonce: string;
  readonly userGatewayCertificate: string;
  readonly relayingGatewayInternetAddress?: string;
}

export function registrationRequestDigest(serialized: Buffer): Buffer {
  return createHash('sha256').update(serialized).digest();
}

/** User gateway: a fresh request, signed by `identity`'s key with its (self-issued) certificate attached. */
export async function createCourierRegistrationRequest(
  identity: { readonly keyPair: KeyPair; readonly certificate: Certificate },
  clock: Clock = systemClock,
): Promise<Buffer> {
  const plaintext: RequestPlaintext = {
    type: REQUEST_TYPE,
    publicKey: derSerializePublicKey(identity.keyPair.publicKey).toString('base64'),
    nonce: randomBytes(NONCE_LENGTH).toString('base64'),
    creationDate: clock.now().toISOString(),
  };
  return signSignedData(Buffer.from(JSON.stringify(plaintext)), identity.keyPair.privateKey, identity.certificate);
}

/**
 * Read a request and verify its signature with the key it registers.
 *
 * @throws MalformedRegistrationRequestError if it is unreadable or tampered with.
 */
export async function parseCourierRegistrationRequest(serialized: Buffer): Promise<CourierRegistrationRequest> {
  let verification;
  let plaintext: RequestPlaintext;
  try {
    verification = await verifySignedData(serialized);
    plaintext = JSON.parse(verification.plaintext.toString('utf8')) as RequestPlaintext;
  } catch (error) {
    throw new MalformedRegistrationRequestError(
      `Registration request refused: unreadable or its signature does not verify (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (
    plaintext?.type !== REQUEST_TYPE ||
    typeof plaintext.publicKey !== 'string' ||
    typeof plaintext.nonce !== 'string'
  ) {
    throw new MalformedRegistrationRequestError('Registration request refused: not a courier registration request');
  }
  const publicKey = Buffer.from(plaintext.publicKey, 'base64');
  const signerKey = derSerializePublicKey(verification.signerCertificate.publicKey);
  if (!publicKey.equals(signerKey)) {
    throw new MalformedRegistrationRequestError(
      'Registration request refused: it is not signed by the key it registers',
    );
  }
  const nonce = Buffer.from(plaintext.nonce, 'base64');
  const creationDate = new Date(plaintext.creationDate);
  if (nonce.length !== NONCE_LENGTH || Number.isNaN(creationDate.getTime())) {
    throw new MalformedRegistrationRequestError('Registration request refused: bad nonce or creation date');
  }
  let userGatewayId: string;
  try {
    userGatewayId = getIdFromIdentityKey(derDeserializeRsaPublicKey(publicKey));
  } catch (error) {
    throw new MalformedRegistrationRequestError('Registration request refused: unusable key', { cause: error });
  }
  return { userGatewayId, publicKey, nonce, creationDate, digest: registrationRequestDigest(serialized) };
}

/**
 * User gateway: check a response against our pending request (`pendingRequest`, serialized) and the pinned
 * relaying gateway certificate, if any.
 *
 * @throws MalformedRegistrationResponseError if it is unreadable, tampered with or inconsistent;
 *   UnrelatedRegistrationResponseError if it answers another request or comes from another relaying gateway.
 */
export async function verifyCourierRegistrationResponse(
  serialized: Buffer,
  options: { readonly pendingRequest: Buffer; readonly userGatewayId: string; readonly pinned: Certificate | null },
): Promise<RegistrationResponse> {
  let verification;
  let plaintext: ResponsePlaintext;
  let userGatewayCertificate: Certificate;
  try {
    verification = await verifySignedData(serialized);
    plaintext = JSON.parse(verification.plaintext.toString('utf8')) as ResponsePlaintext;
    if (plaintext?.type !== RESPONSE_TYPE) throw new Error('not a courier registration response');
    userGatewayCertificate = Certificate.deserialize(Buffer.from(plaintext.userGatewayCertificate, 'base64'));
  } catch (error) {
    throw new MalformedRegistrationResponseError(
      `Registration response refused: unreadable or its signature does not verify (${(error as Error).message})`,
      { cause: error },
    );
  }
  const relayingGatewayCertificate = verification.signerCertificate;
  if (!(await relayingGatewayCertificate.isIssuedBy(relayingGatewayCertificate))) {
    throw new MalformedRegistrationResponseError(
      'Registration response refused: the relaying gateway certificate is not self-issued',
    );
  }
  if (options.pinned && !options.pinned.isEqual(relayingGatewayCertificate)) {
    throw new UnrelatedRegistrationResponseError(
      `Registration response refused: it is from relaying gateway ${relayingGatewayCertificate.calculateSubjectId()}, ` +
        `not the pinned ${options.pinned.calculateSubjectId()}`,
    );
  }
  const expected = registrationRequestDigest(options.pendingRequest);
  if (!Buffer.from(String(plaintext.requestDigest), 'base64').equals(expected)) {
    throw new UnrelatedRegistrationResponseError(
      "Registration response refused: it does not answer this gateway's pending request (replayed, or meant for another gateway)",
    );
  }
  if (userGatewayCertificate.calculateSubjectId() !== options.userGatewayId) {
    throw new MalformedRegistrationResponseError(
      `Registration response refused: it certifies ${userGatewayCertificate.calculateSubjectId()}, not ${options.userGatewayId}`,
    );
  }
  if (!(await userGatewayCertificate.isIssuedBy(relayingGatewayCertificate))) {
    throw new MalformedRegistrationResponseError(
      'Registration response refused: our certificate was not issued by its signer',
    );
  }
  return {
    userGatewayCertificate,
    relayingGatewayCertificate,
    ...(plaintext.relayingGatewayInternetAddress
      ? { relayingGatewayInternetAddress: plaintext.relayingGatewayInternetAddress }
      : {}),
  };
}

export interface CourierRegistrationAnswer {
  readonly response: Buffer;
  readonly userGatewayId: string;
  /** The same request was answered before: this is that answer again, and no certificate was issued. */
  readonly replayed: boolean;
}

/**
 * Relaying gateway: answers requests, remembering each answer (in `answers`, the gateway's stores, by request
 * digest) so that the same request gets the same answer and never a second certificate. One answer at a time
 * here; instances over shared stores that answer the same request at the same moment both hand out the answer
 * kept first (the other's certificate, for the same key, is never handed out).
 */
export class CourierRegistrar {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(
    private readonly options: {
      readonly gateway: RelayingGateway;
      /** Where answers are remembered: the gateway's stores (`GatewayStores.courierAnswers`), shared by its instances. */
      readonly answers: CourierAnswerStore;
      readonly clock?: Clock;
      readonly logger?: Logger;
      readonly internetAddress?: string;
    },
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * @throws MalformedRegistrationRequestError, RegistrationRequestTimingError (refused for good, logged);
   *   anything else means "not answered now" (e.g. the disk): present it again later.
   */
  answer(serialized: Buffer): Promise<CourierRegistrationAnswer> {
    const next = this.queue.then(() => this.answerNow(serialized));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async answerNow(serialized: Buffer): Promise<CourierRegistrationAnswer> {
    let request: CourierRegistrationRequest;
    try {
      request = await parseCourierRegistrationRequest(serialized);
      this.checkTiming(request);
    } catch (error) {
      this.logger.warn(
        { err: (error as Error).message, refusal: (error as Error).name },
        'Courier registration request refused',
      );
      throw error;
    }
    const digest = request.digest.toString('hex');
    const remembered = await this.options.answers.get(digest);
    if (remembered) {
      this.logger.warn(
        { userGatewayId: request.userGatewayId, requestDigest: request.digest.toString('hex') },
        'Courier registration request replayed: answered with the response already issued (no new certificate)',
      );
      return { response: remembered, userGatewayId: request.userGatewayId, replayed: true };
    }
    const { gateway } = this.options;
    const certificate = await gateway.registerUserGateway(derDeserializeRsaPublicKey(request.publicKey));
    const plaintext: ResponsePlaintext = {
      type: RESPONSE_TYPE,
      requestDigest: request.digest.toString('base64'),
      nonce: request.nonce.toString('base64'),
      userGatewayCertificate: certificate.serialize().toString('base64'),
      ...(this.options.internetAddress ? { relayingGatewayInternetAddress: this.options.internetAddress } : {}),
    };
    const signed = await gateway.signWithIdentity(Buffer.from(JSON.stringify(plaintext)));
    // Remembered before it is handed out: a crash after this answers the replay with the same response. Kept until
    // the request is too old to be accepted anyway (counted from now if it is dated ahead of this clock).
    const keptFrom = Math.max(this.clock.now().getTime(), request.creationDate.getTime());
    const response = await this.options.answers.keep(digest, signed, new Date(keptFrom + ANSWER_RETENTION_MS));
    if (!response.equals(signed)) {
      // Another instance answered the same request a moment ago: its answer is the one, ours is dropped.
      return { response, userGatewayId: request.userGatewayId, replayed: true };
    }
    this.logger.info(
      { userGatewayId: request.userGatewayId, requestDigest: request.digest.toString('hex') },
      'Courier registration request answered',
    );
    return { response, userGatewayId: request.userGatewayId, replayed: false };
  }

  private checkTiming(request: CourierRegistrationRequest): void {
    const now = this.clock.now().getTime();
    const created = request.creationDate.getTime();
    if (created < now - REGISTRATION_REQUEST_MAX_AGE_MS) {
      throw new RegistrationRequestTimingError(
        `Registration request refused: made on ${request.creationDate.toISOString()}, more than 90 days ago (the user gateway makes a new one)`,
      );
    }
    if (created > now + REGISTRATION_REQUEST_MAX_FUTURE_MS) {
      throw new RegistrationRequestTimingError(
        `Registration request refused: dated ${request.creationDate.toISOString()}, more than 7 days ahead of this gateway's clock`,
      );
    }
  }

  /** Forget answers to requests that would be refused as too old anyway. */
  purge(): Promise<number> {
    return this.options.answers.purgeExpired(this.clock.now());
  }
}
