import { MessageType } from '../ramf/formatSignature';
import { RamfMessage } from '../ramf/RamfMessage';
import { deserializeRamf } from '../ramf/serialization';
import { CargoMessageSet } from './payloads/CargoMessageSet';

/** A RAMF message between gateways; its payload is an encrypted CargoMessageSet. */
export class Cargo extends RamfMessage<CargoMessageSet> {
  static readonly TYPE = MessageType.CARGO;
  protected readonly messageType = Cargo.TYPE;

  static async deserialize(serialization: Buffer): Promise<Cargo> {
    const fields = await deserializeRamf(serialization, Cargo.TYPE);
    return new Cargo(fields.recipient, fields.senderCertificate, fields.payload, fields);
  }

  protected deserializePayload(plaintext: Buffer): CargoMessageSet {
    return CargoMessageSet.deserialize(plaintext);
  }
}
