import { randomUUID, type KeyObject } from 'node:crypto';

import {
  decryptSessionless,
  decryptWithSessionKey,
  inspectEnvelopedData,
  type EnvelopedDataKind,
} from '../cms/envelopedData';
import type { SignatureOptions } from '../cms/signedData';
import { AuthorizationError, CertificateError, errorMessage, TimingError } from '../errors';
import type { Certificate } from '../pki/Certificate';
import type { SessionKey } from '../pki/keys';
import { DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS, DEFAULT_TTL_SECONDS } from './limits';
import type { Recipient } from './Recipient';
import { serializeRamf, validateRamfFields } from './serialization';

export interface RamfMessageOptions {
  readonly id?: string;
  readonly creationDate?: Date;
  readonly ttl?: number;
  readonly senderCaCertificateChain?: readonly Certificate[];
}

export interface ValidationOptions {
  /** The current time; tests and the clock abstraction pass it. */
  readonly now?: Date;
  /** How far in the future the creation date may be; defaults to 2 hours. */
  readonly clockDriftToleranceSeconds?: number;
}

/**
 * Where the private key to decrypt a payload comes from: a key, or a function that picks one
 * from what the EnvelopedData says (a session key id, or the sessionless form).
 */
export type PrivateKeySource = KeyObject | ((kind: EnvelopedDataKind) => Promise<KeyObject>);

export interface UnwrappedPayload<Payload> {
  readonly payload: Payload;
  /** The sender's session key when the payload used the channel session protocol. */
  readonly senderSessionKey: SessionKey | null;
}

/** The part of RAMF shared by parcels, cargo and CCAs. */
export abstract class RamfMessage<Payload> {
  public readonly id: string;
  public readonly creationDate: Date;
  public readonly ttl: number;
  public readonly senderCaCertificateChain: readonly Certificate[];

  protected abstract readonly messageType: number;

  constructor(
    public readonly recipient: Recipient,
    public readonly senderCertificate: Certificate,
    public readonly payloadSerialized: Buffer,
    options: RamfMessageOptions = {},
  ) {
    this.id = options.id ?? randomUUID();
    const creationDate = options.creationDate ?? new Date();
    // RAMF dates have a one-second resolution: drop milliseconds so a round trip compares equal.
    this.creationDate = new Date(Math.floor(creationDate.getTime() / 1000) * 1000);
    this.ttl = options.ttl ?? DEFAULT_TTL_SECONDS;
    this.senderCaCertificateChain = (options.senderCaCertificateChain ?? []).filter(
      (certificate) => !certificate.isEqual(senderCertificate),
    );
    validateRamfFields(this);
  }

  get payload(): Buffer {
    return this.payloadSerialized;
  }

  get expiryDate(): Date {
    return new Date(this.creationDate.getTime() + this.ttl * 1000);
  }

  /**
   * Sign and serialize the message. The first serialization of a large payload from
   * encryptPayload is written around the payload, in the same memory, instead of copying it.
   */
  serialize(senderPrivateKey: KeyObject, signatureOptions?: SignatureOptions): Promise<Buffer> {
    return serializeRamf(
      this.messageType,
      { ...this, payload: this.payloadSerialized },
      senderPrivateKey,
      this.senderCertificate,
      this.senderCaCertificateChain,
      signatureOptions,
    );
  }

  /**
   * Check timing and, when `trustedCertificates` is given, authorization.
   *
   * Returns the sender's certification path (leaf first) when authorization was checked.
   */
  async validate(
    trustedCertificates?: readonly Certificate[] | null,
    options: ValidationOptions = {},
  ): Promise<Certificate[] | null> {
    const now = options.now ?? new Date();
    this.validateTiming(now, options.clockDriftToleranceSeconds);
    try {
      this.senderCertificate.validate(this.creationDate);
    } catch (error) {
      throw new CertificateError(
        `Sender certificate is not valid at the message creation date: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
    if (!trustedCertificates) return null;
    return this.validateAuthorization(trustedCertificates, now);
  }

  private validateTiming(now: Date, driftSeconds = DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS): void {
    const latestAcceptable = now.getTime() + driftSeconds * 1000;
    if (this.creationDate.getTime() > latestAcceptable) {
      throw new TimingError(
        `Message creation date ${this.creationDate.toISOString()} is more than ${driftSeconds} ` +
          `seconds in the future (now ${now.toISOString()})`,
      );
    }
    if (this.expiryDate.getTime() < now.getTime()) {
      throw new TimingError(`Message expired at ${this.expiryDate.toISOString()}`);
    }
  }

  private async validateAuthorization(trustedCertificates: readonly Certificate[], now: Date): Promise<Certificate[]> {
    let path: Certificate[];
    try {
      path = await this.senderCertificate.getCertificationPath(
        this.senderCaCertificateChain,
        trustedCertificates,
        // Certificates are checked at the message date; the message itself is not yet expired.
        this.creationDate < now ? this.creationDate : now,
      );
    } catch (error) {
      throw new AuthorizationError(`Sender is not authorized: ${errorMessage(error)}`, { cause: error });
    }
    if (this.recipient.internetAddress === undefined) {
      // A private recipient only hears from senders it (or its gateway on its behalf) authorized.
      const issuerId = path.length > 1 ? path[1].calculateSubjectId() : null;
      if (issuerId !== this.recipient.id) {
        throw new AuthorizationError(`Sender is authorized to reach ${issuerId ?? 'nobody'}, not ${this.recipient.id}`);
      }
    }
    return path;
  }

  async unwrapPayload(keySource: PrivateKeySource): Promise<UnwrappedPayload<Payload>> {
    const kind = inspectEnvelopedData(this.payloadSerialized);
    const privateKey = typeof keySource === 'function' ? await keySource(kind) : keySource;
    if (kind.kind === 'sessionless') {
      const plaintext = await decryptSessionless(this.payloadSerialized, privateKey);
      return { payload: this.deserializePayload(plaintext), senderSessionKey: null };
    }
    const { plaintext, originatorSessionKey } = await decryptWithSessionKey(this.payloadSerialized, privateKey);
    return { payload: this.deserializePayload(plaintext), senderSessionKey: originatorSessionKey };
  }

  protected abstract deserializePayload(plaintext: Buffer): Payload;
}
