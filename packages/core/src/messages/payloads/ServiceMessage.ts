import { decodeAsn1, expectSequence, readOctetString, readVisibleString } from '../../asn1/decode';
import { chunkedTlv, DER_IDENTIFIER, flatten, type DerChunks } from '../../asn1/derChunks';
import { implicit, visibleString } from '../../asn1/encode';
import { RelaynetSyntaxError } from '../../errors';

/** Longest media type accepted, in octets. */
export const MAX_SERVICE_MESSAGE_TYPE_LENGTH = 255;

/** What an app puts in a parcel: a media type and the content it describes. */
export class ServiceMessage {
  static deserialize(serialization: Buffer): ServiceMessage {
    try {
      const items = expectSequence(decodeAsn1(serialization, { ber: true }), 'Service message');
      if (items.length !== 2) {
        throw new RelaynetSyntaxError(`Service message must have 2 fields (got ${items.length})`);
      }
      const type = readVisibleString(items[0], 'Service message type', 0);
      return new ServiceMessage(type, readOctetString(items[1], 'Service message content', 1));
    } catch (error) {
      if (error instanceof RelaynetSyntaxError) throw error;
      throw new RelaynetSyntaxError('Malformed service message', { cause: error });
    }
  }

  constructor(
    public readonly type: string,
    public readonly content: Buffer,
  ) {
    if (type.length === 0 || type.length > MAX_SERVICE_MESSAGE_TYPE_LENGTH) {
      throw new RelaynetSyntaxError(
        `Service message type must span 1..${MAX_SERVICE_MESSAGE_TYPE_LENGTH} octets (got ${type.length})`,
      );
    }
    if (!/^[\x20-\x7e]+$/.test(type)) {
      throw new RelaynetSyntaxError('Service message type must be printable ASCII');
    }
  }

  serialize(): Buffer {
    return flatten(this.serializeChunks());
  }

  /**
   * The serialization as chunks around the (possibly multi-megabyte) content, which is not
   * copied: encryptPayload takes this directly.
   */
  serializeChunks(): DerChunks {
    return chunkedTlv(
      DER_IDENTIFIER.SEQUENCE,
      implicit(0, visibleString(this.type)),
      chunkedTlv(DER_IDENTIFIER.CONTEXT_PRIMITIVE_0 | 1, this.content),
    );
  }
}
