import { MessageType } from '../ramf/formatSignature';
import { RamfMessage } from '../ramf/RamfMessage';
import { deserializeRamf } from '../ramf/serialization';
import { MAX_CARGO_ITEM_LENGTH } from './payloads/CargoMessageSet';
import { ServiceMessage } from './payloads/ServiceMessage';

/** Largest parcel: one that still fits in a cargo. */
export const MAX_PARCEL_LENGTH = MAX_CARGO_ITEM_LENGTH;

/** A RAMF message from one endpoint to another; its payload is an encrypted ServiceMessage. */
export class Parcel extends RamfMessage<ServiceMessage> {
  static readonly TYPE = MessageType.PARCEL;
  protected readonly messageType = Parcel.TYPE;

  static async deserialize(serialization: Buffer): Promise<Parcel> {
    const fields = await deserializeRamf(serialization, Parcel.TYPE, MAX_PARCEL_LENGTH);
    return new Parcel(fields.recipient, fields.senderCertificate, fields.payload, fields);
  }

  protected deserializePayload(plaintext: Buffer): ServiceMessage {
    return ServiceMessage.deserialize(plaintext);
  }
}
