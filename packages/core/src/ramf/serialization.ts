import type { KeyObject } from 'node:crypto';

import {
  Asn1Element,
  decodeAsn1,
  expectSequence,
  readDateTime,
  readOctetString,
  readSmallInteger,
  readVisibleString,
} from '../asn1/decode';
import { implicit, implicitlyTaggedSequence, integer, ramfDateTime, visibleString } from '../asn1/encode';
import { chunkedTlv, DER_IDENTIFIER, flatten, joinChunks, type DerChunks } from '../asn1/derChunks';
import {
  readSignedDataPlaintextUnverified,
  signSignedDataChunks,
  verifySignedData,
  type SignatureOptions,
} from '../cms/signedData';
import { CryptoError, errorMessage, RelaynetError, RelaynetSyntaxError } from '../errors';
import type { Certificate } from '../pki/Certificate';
import { checkFormatSignature, makeFormatSignature } from './formatSignature';
import {
  FORMAT_SIGNATURE_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_PAYLOAD_LENGTH,
  MAX_RAMF_MESSAGE_LENGTH,
  MAX_TTL_SECONDS,
} from './limits';
import { type Recipient, validateRecipient } from './Recipient';

/** The fields every RAMF message carries, as they are signed. */
export interface RamfFields {
  readonly recipient: Recipient;
  readonly id: string;
  readonly creationDate: Date;
  readonly ttl: number;
  readonly payload: Buffer;
}

export interface DeserializedRamf extends RamfFields {
  readonly senderCertificate: Certificate;
  readonly senderCaCertificateChain: Certificate[];
}

/** The signature over a RAMF message did not verify. */
export class InvalidSignatureError extends CryptoError {}

export function validateRamfFields(fields: RamfFields): void {
  validateRecipient(fields.recipient);
  if (fields.id.length > MAX_MESSAGE_ID_LENGTH) {
    throw new RelaynetSyntaxError(
      `Message id must not exceed ${MAX_MESSAGE_ID_LENGTH} octets (got ${fields.id.length})`,
    );
  }
  if (!/^[\x20-\x7e]*$/.test(fields.id)) {
    throw new RelaynetSyntaxError('Message id must be printable ASCII');
  }
  if (!Number.isInteger(fields.ttl) || fields.ttl < 0 || fields.ttl > MAX_TTL_SECONDS) {
    throw new RelaynetSyntaxError(`TTL must be an integer in 0..${MAX_TTL_SECONDS} (got ${fields.ttl})`);
  }
  if (fields.payload.length > MAX_PAYLOAD_LENGTH) {
    throw new RelaynetSyntaxError(
      `Payload must not exceed ${MAX_PAYLOAD_LENGTH} octets (got ${fields.payload.length})`,
    );
  }
  if (Number.isNaN(fields.creationDate.getTime())) {
    throw new RelaynetSyntaxError('Creation date is not a valid date');
  }
}

export function encodeRamfFields(fields: RamfFields): Buffer {
  return flatten(encodeRamfFieldsChunks(fields));
}

/** The fields as DER chunks, so the payload (up to 8 MiB) is not copied here. */
function encodeRamfFieldsChunks(fields: RamfFields): DerChunks {
  const { recipient } = fields;
  const recipientField = implicitlyTaggedSequence(
    visibleString(recipient.id),
    recipient.internetAddress === undefined ? undefined : visibleString(recipient.internetAddress),
  );
  // AUTOMATIC TAGS: [0] recipient, [1] id, [2] date, [3] TTL, [4] payload (primitive).
  const smallFields = [
    recipientField,
    visibleString(fields.id),
    ramfDateTime(fields.creationDate),
    integer(fields.ttl),
  ].map((field, index) => implicit(index, field));
  return chunkedTlv(
    DER_IDENTIFIER.SEQUENCE,
    ...smallFields,
    chunkedTlv(DER_IDENTIFIER.CONTEXT_PRIMITIVE_0 | 4, fields.payload),
  );
}

export async function serializeRamf(
  type: number,
  fields: RamfFields,
  senderPrivateKey: KeyObject,
  senderCertificate: Certificate,
  senderCaCertificateChain: readonly Certificate[],
  signatureOptions?: SignatureOptions,
): Promise<Buffer> {
  validateRamfFields(fields);
  const signedData = await signSignedDataChunks(
    encodeRamfFieldsChunks(fields),
    senderPrivateKey,
    senderCertificate,
    senderCaCertificateChain,
    signatureOptions,
  );
  // The payload is copied here at most once, or not at all when it has room around it (see
  // allocateWithRoom: encryptPayload leaves room around large EnvelopedData values).
  const serialization = joinChunks(makeFormatSignature(type), signedData);
  if (serialization.length > MAX_RAMF_MESSAGE_LENGTH) {
    throw new RelaynetSyntaxError(
      `Message would span ${serialization.length} octets, above the limit of ${MAX_RAMF_MESSAGE_LENGTH}`,
    );
  }
  return flatten(serialization);
}

/**
 * Check the format signature, verify the CMS signature and decode the fields, for the constructor
 * of a RamfMessage (which validates the fields: see validateRamfFields).
 * Timing and authorization are checked separately (see RamfMessage.validate).
 */
export async function deserializeRamf(
  serialization: Buffer,
  type: number,
  maxLength = MAX_RAMF_MESSAGE_LENGTH,
): Promise<DeserializedRamf> {
  if (serialization.length > maxLength) {
    throw new RelaynetSyntaxError(`Message spans ${serialization.length} octets, above the limit of ${maxLength}`);
  }
  checkFormatSignature(serialization, type);
  const signedData = serialization.subarray(FORMAT_SIGNATURE_LENGTH);

  let verification;
  try {
    verification = await verifySignedData(signedData);
  } catch (error) {
    if (error instanceof RelaynetSyntaxError) {
      throw new RelaynetSyntaxError(`Message is not a valid CMS SignedData value: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    throw new InvalidSignatureError(`Invalid message signature: ${errorMessage(error)}`, { cause: error });
  }
  const fields = decodeRamfFields(verification.plaintext);
  return {
    ...fields,
    senderCertificate: verification.signerCertificate,
    senderCaCertificateChain: verification.attachedCertificates.filter(
      (certificate) => !certificate.isEqual(verification.signerCertificate),
    ),
  };
}

/**
 * The fields of a RAMF message this program already verified and stored (the signature is not checked
 * again; see readSignedDataPlaintextUnverified). For a gateway looking at the dates of queued parcels.
 */
export function readStoredRamfFields(serialization: Buffer): RamfFields {
  if (serialization.length < FORMAT_SIGNATURE_LENGTH) {
    throw new RelaynetSyntaxError('Message is shorter than its format signature');
  }
  const plaintext = readSignedDataPlaintextUnverified(serialization.subarray(FORMAT_SIGNATURE_LENGTH));
  if (!plaintext) throw new RelaynetSyntaxError('Message SignedData has no encapsulated content');
  return decodeRamfFields(plaintext);
}

export function decodeRamfFields(plaintext: Buffer): RamfFields {
  try {
    const root = decodeAsn1(plaintext, { ber: true });
    const items = expectSequence(root, 'RAMF fields');
    if (items.length !== 5) {
      throw new RelaynetSyntaxError(`RAMF fields must be a SEQUENCE of 5 items (got ${items.length})`);
    }
    return {
      recipient: decodeRecipient(items[0]),
      id: readVisibleString(items[1], 'Message id', 1),
      creationDate: readDateTime(items[2], 'Creation date', 2),
      ttl: readSmallInteger(items[3], 'TTL', 3),
      payload: readOctetString(items[4], 'Payload', 4),
    };
  } catch (error) {
    if (error instanceof RelaynetSyntaxError) throw error;
    throw new RelaynetSyntaxError('Malformed RAMF fields', { cause: error });
  }
}

function decodeRecipient(element: Asn1Element): Recipient {
  if (!element.isContext(0) || !element.constructed) {
    throw new RelaynetSyntaxError(`Recipient: expected a constructed [0], got ${element.describe()}`);
  }
  const items = element.children;
  if (items.length < 1 || items.length > 2) {
    throw new RelaynetSyntaxError(`Recipient must have 1 or 2 fields (got ${items.length})`);
  }
  const id = readVisibleString(items[0], 'Recipient id', 0);
  if (items.length === 1) return { id };
  return { id, internetAddress: readVisibleString(items[1], 'Recipient Internet address', 1) };
}

/** Wrap anything that is not already one of ours, so callers only ever see the typed tree. */
export function asRelaynetError(error: unknown, message: string): RelaynetError {
  return error instanceof RelaynetError ? error : new RelaynetSyntaxError(message, { cause: error });
}
