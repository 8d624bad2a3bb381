import { decodeAsn1, expectSequence, readVisibleString } from '../asn1/decode';
import { implicitlyTaggedSequence, visibleString } from '../asn1/encode';
import { RelaynetSyntaxError } from '../errors';
import { checkFormatSignature, makeFormatSignature, MessageType } from '../ramf/formatSignature';
import { FORMAT_SIGNATURE_LENGTH, MAX_MESSAGE_ID_LENGTH, MAX_RECIPIENT_ID_LENGTH } from '../ramf/limits';

/**
 * Tells the gateway that sent a parcel in cargo that the peer gateway stored it, so the sender
 * may delete its copy. Not a RAMF message: format signature + DER, unsigned, inside cargo.
 */
export class ParcelCollectionAck {
  static readonly TYPE = MessageType.PARCEL_COLLECTION_ACK;
  static readonly FORMAT_SIGNATURE = makeFormatSignature(MessageType.PARCEL_COLLECTION_ACK);

  static deserialize(serialization: Buffer): ParcelCollectionAck {
    checkFormatSignature(serialization, ParcelCollectionAck.TYPE);
    try {
      const root = decodeAsn1(serialization.subarray(FORMAT_SIGNATURE_LENGTH), { ber: true });
      const items = expectSequence(root, 'Parcel collection acknowledgement');
      if (items.length !== 3) {
        throw new RelaynetSyntaxError(`PCA must have 3 fields (got ${items.length})`);
      }
      return new ParcelCollectionAck(
        readVisibleString(items[0], 'PCA sender endpoint id', 0),
        readVisibleString(items[1], 'PCA recipient endpoint id', 1),
        readVisibleString(items[2], 'PCA parcel id', 2),
      );
    } catch (error) {
      if (error instanceof RelaynetSyntaxError) throw error;
      throw new RelaynetSyntaxError('Malformed parcel collection acknowledgement', { cause: error });
    }
  }

  constructor(
    public readonly senderEndpointId: string,
    public readonly recipientEndpointId: string,
    public readonly parcelId: string,
  ) {
    for (const [what, value, max] of [
      ['sender endpoint id', senderEndpointId, MAX_RECIPIENT_ID_LENGTH],
      ['recipient endpoint id', recipientEndpointId, MAX_RECIPIENT_ID_LENGTH],
      ['parcel id', parcelId, MAX_MESSAGE_ID_LENGTH],
    ] as const) {
      if (value.length > max) {
        throw new RelaynetSyntaxError(`PCA ${what} must not exceed ${max} octets (got ${value.length})`);
      }
    }
  }

  serialize(): Buffer {
    return Buffer.concat([
      ParcelCollectionAck.FORMAT_SIGNATURE,
      implicitlyTaggedSequence(
        visibleString(this.senderEndpointId),
        visibleString(this.recipientEndpointId),
        visibleString(this.parcelId),
      ),
    ]);
  }
}
