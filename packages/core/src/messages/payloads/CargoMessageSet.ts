import { decodeAsn1, expectSequence, readOctetString } from '../../asn1/decode';
import { chunkedTlv, DER_IDENTIFIER, flatten, type DerChunks } from '../../asn1/derChunks';
import { encodeLength } from '../../asn1/encode';
import { RelaynetSyntaxError } from '../../errors';
import { MAX_SDU_PLAINTEXT_LENGTH } from '../../ramf/limits';

/** Type and length octets of an OCTET STRING or SEQUENCE of up to 16 MiB in DER. */
const DER_TL_OVERHEAD = 5;

/** Largest message (parcel, PCA) that fits in a cargo message set. */
export const MAX_CARGO_ITEM_LENGTH = MAX_SDU_PLAINTEXT_LENGTH - DER_TL_OVERHEAD * 2;

/** The plaintext of a cargo payload: serialized RAMF messages, in order. */
export class CargoMessageSet {
  static deserialize(serialization: Buffer): CargoMessageSet {
    try {
      const items = expectSequence(decodeAsn1(serialization, { ber: true }), 'Cargo message set');
      return new CargoMessageSet(items.map((item) => readOctetString(item, 'Cargo message set item')));
    } catch (error) {
      if (error instanceof RelaynetSyntaxError) throw error;
      throw new RelaynetSyntaxError('Malformed cargo message set', { cause: error });
    }
  }

  constructor(public readonly messages: readonly Buffer[]) {}

  serialize(): Buffer {
    return flatten(this.serializeChunks());
  }

  /**
   * The serialization as chunks around the messages, which are not copied: encryptPayload takes this
   * directly, so a cargo of up to 8 MiB of parcels is not joined into one more buffer before encryption.
   */
  serializeChunks(): DerChunks {
    const items = this.messages.map((message) => chunkedTlv(DER_IDENTIFIER.OCTET_STRING, message));
    return chunkedTlv(DER_IDENTIFIER.SEQUENCE, ...items);
  }
}

export interface BatchItem {
  readonly message: Buffer;
  readonly expiryDate: Date;
}

export interface MessageBatch {
  readonly messageSet: CargoMessageSet;
  /** The latest expiry among the batch's messages: the cargo need not outlive it. */
  readonly expiryDate: Date;
  /** DER length of `messageSet.serialize()`, known without serializing. */
  readonly serializedLength: number;
}

/**
 * Pack messages, in order, into as few cargo message sets as the size limit allows.
 * Items larger than a cargo can carry are refused rather than silently dropped.
 */
export async function* batchMessages(
  items: AsyncIterable<BatchItem> | Iterable<BatchItem>,
  maxSetLength = MAX_SDU_PLAINTEXT_LENGTH,
): AsyncGenerator<MessageBatch> {
  let batch: Buffer[] = [];
  let contentLength = 0;
  let expiryDate: Date | null = null;

  const flush = (): MessageBatch => {
    const serializedLength = 1 + encodeLength(contentLength).length + contentLength;
    const result = { messageSet: new CargoMessageSet(batch), expiryDate: expiryDate!, serializedLength };
    batch = [];
    contentLength = 0;
    expiryDate = null;
    return result;
  };

  for await (const item of items) {
    if (item.message.length > MAX_CARGO_ITEM_LENGTH) {
      throw new RelaynetSyntaxError(
        `Cargo items must not exceed ${MAX_CARGO_ITEM_LENGTH} octets (got ${item.message.length})`,
      );
    }
    const itemLength = 1 + encodeLength(item.message.length).length + item.message.length;
    const setLength = (length: number) => 1 + encodeLength(length).length + length;
    if (batch.length > 0 && setLength(contentLength + itemLength) > maxSetLength) {
      yield flush();
    }
    batch.push(item.message);
    contentLength += itemLength;
    if (!expiryDate || expiryDate < item.expiryDate) expiryDate = item.expiryDate;
  }
  if (batch.length > 0) yield flush();
}
