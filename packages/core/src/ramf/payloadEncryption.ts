import type { KeyObject } from 'node:crypto';

import type { DerChunks } from '../asn1/derChunks';
import type { AesKeySize } from '../cms/algorithms';
import { encryptSessionless, encryptWithSessionKey } from '../cms/envelopedData';
import { RelaynetSyntaxError } from '../errors';
import type { Certificate } from '../pki/Certificate';
import type { SessionKey } from '../pki/keys';
import { MAX_SDU_PLAINTEXT_LENGTH } from './limits';

/**
 * Whom a payload is encrypted for: the recipient's identity certificate (sessionless, for first
 * contact) or its current session key (the channel session protocol, RS-003).
 */
export type PayloadRecipient =
  | { readonly certificate: Certificate; readonly sessionKey?: undefined }
  | { readonly sessionKey: SessionKey; readonly certificate?: undefined };

export interface EncryptedPayload {
  readonly envelopedData: Buffer;
  /** With a session key: the ephemeral key this message used, to keep for the peer's reply. */
  readonly dhKeyId: Buffer | null;
  readonly dhPrivateKey: KeyObject | null;
}

export async function encryptPayload(
  plaintext: Buffer | DerChunks,
  recipient: PayloadRecipient,
  options: { aesKeySize?: AesKeySize } = {},
): Promise<EncryptedPayload> {
  if (plaintext.length > MAX_SDU_PLAINTEXT_LENGTH) {
    throw new RelaynetSyntaxError(
      `Payload plaintext must not exceed ${MAX_SDU_PLAINTEXT_LENGTH} octets (got ${plaintext.length})`,
    );
  }
  // Chunks (e.g. ServiceMessage.serializeChunks()) are encrypted without being joined first.
  const input = Buffer.isBuffer(plaintext) ? plaintext : plaintext.chunks;
  if (recipient.sessionKey) {
    const result = await encryptWithSessionKey(input, recipient.sessionKey, options);
    return {
      envelopedData: result.envelopedData,
      dhKeyId: result.dhKeyId,
      dhPrivateKey: result.dhPrivateKey,
    };
  }
  const envelopedData = await encryptSessionless(input, recipient.certificate, options);
  return { envelopedData, dhKeyId: null, dhPrivateKey: null };
}
