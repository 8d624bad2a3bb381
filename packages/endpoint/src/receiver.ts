/**
 * Receiving parcels, shared by both kinds of endpoint: deserialize, validate (the caller's rules), drop
 * repeats, decrypt, hand to the app, record as handled.
 *
 * Outcomes: `accepted` and `duplicate` and `refused` all mean "acknowledge" (ARCHITECTURE: an ack means
 * durably stored, or permanently refused and logged); an exception (the app's handler or a store failed)
 * means "do not acknowledge", so the gateway delivers the parcel again.
 */
import { errorMessage, type Logger, Parcel } from '@twitter-relaynet/core';

import type { Clock } from './clock';
import { InvalidParcelError, isCoreError } from './errors';
import type { IncomingMessage, MessageHandler, ReceiptOutcome } from './messages';
import type { SessionManager } from './sessions';
import type { DedupLedger } from './stores/types';

export interface ReceiverDependencies {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly dedup: DedupLedger;
  readonly sessions: SessionManager;
  /** Endpoint-specific checks (addressing, certification path); throw to refuse. */
  validate(parcel: Parcel, now: Date): Promise<void>;
}

export class ParcelReceiver {
  /** Parcels being handled, by (sender, id): a concurrent copy waits for the first to finish. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: ReceiverDependencies) {}

  async receive(
    serialization: Buffer,
    handler: MessageHandler,
    context: { readonly gatewayAddress?: string | null } = {},
  ): Promise<ReceiptOutcome> {
    const { clock } = this.deps;
    let parcel: Parcel;
    try {
      parcel = await Parcel.deserialize(serialization);
    } catch (error) {
      return this.refuse(null, null, `Malformed or badly signed parcel: ${errorMessage(error)}`, error);
    }
    const senderId = parcel.senderCertificate.calculateSubjectId();
    const logFields = { parcelId: parcel.id, senderId };
    try {
      await this.deps.validate(parcel, clock.now());
    } catch (error) {
      if (isPermanent(error)) return this.refuse(parcel.id, senderId, `Invalid parcel: ${errorMessage(error)}`, error);
      throw error;
    }

    const key = JSON.stringify([senderId, parcel.id]);
    for (;;) {
      const previous = this.inFlight.get(key);
      if (!previous) break;
      await previous.catch(() => undefined);
    }
    const work = this.handle(parcel, senderId, handler, context.gatewayAddress ?? null, logFields);
    this.inFlight.set(key, work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async handle(
    parcel: Parcel,
    senderId: string,
    handler: MessageHandler,
    gatewayAddress: string | null,
    logFields: { parcelId: string; senderId: string },
  ): Promise<ReceiptOutcome> {
    const { logger, clock, dedup, sessions } = this.deps;
    if (await dedup.has(senderId, parcel.id, clock.now())) {
      logger.info(logFields, 'Dropped a repeat of a parcel already handled');
      return { status: 'duplicate', parcelId: parcel.id, senderId };
    }
    let decrypted;
    try {
      decrypted = await sessions.decrypt(parcel, senderId);
    } catch (error) {
      if (isPermanent(error)) return this.refuse(parcel.id, senderId, errorMessage(error), error);
      throw error;
    }
    const message: IncomingMessage = {
      parcelId: parcel.id,
      type: decrypted.message.type,
      content: decrypted.message.content,
      sender: {
        id: senderId,
        certificate: parcel.senderCertificate,
        certificateChain: parcel.senderCaCertificateChain,
      },
      creationDate: parcel.creationDate,
      expiryDate: parcel.expiryDate,
      gatewayAddress,
      encryption: decrypted.kind,
    };
    try {
      await handler(message);
    } catch (error) {
      logger.warn(
        { ...logFields, err: errorMessage(error) },
        'The app did not take the message: the parcel is not acknowledged',
      );
      await decrypted.peerSessionKeyStored.catch(() => undefined);
      throw error;
    }
    // The key was submitted before the handler ran, so its commit overlapped the app's work. Recorded as handled
    // only once it is stored: a repeat of a parcel whose key was lost must be handled again, key included.
    const keyStored = await decrypted.peerSessionKeyStored;
    await dedup.record(senderId, parcel.id, parcel.expiryDate);
    if (keyStored) {
      logger.info(
        { ...logFields, peerSessionKeyId: decrypted.peerSessionKey!.keyId.toString('hex') },
        "Stored the peer's new session key",
      );
    }
    logger.info({ ...logFields, type: message.type, encryption: message.encryption }, 'Message handed to the app');
    return { status: 'accepted', parcelId: parcel.id, senderId };
  }

  private refuse(parcelId: string | null, senderId: string | null, reason: string, error: unknown): ReceiptOutcome {
    this.deps.logger.warn(
      { parcelId, senderId, errorType: (error as Error)?.name ?? typeof error, reason },
      'Refused a parcel (acknowledged, not handed to the app)',
    );
    return { status: 'refused', parcelId, senderId, reason };
  }
}

function isPermanent(error: unknown): boolean {
  return error instanceof InvalidParcelError || isCoreError(error);
}
