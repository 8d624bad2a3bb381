import { MessageType } from '../ramf/formatSignature';
import { RamfMessage } from '../ramf/RamfMessage';
import { deserializeRamf } from '../ramf/serialization';
import { CargoCollectionRequest } from './payloads/CargoCollectionRequest';

/**
 * Lets a courier collect cargo for the sender gateway from the recipient gateway; its payload is
 * an encrypted CargoCollectionRequest.
 */
export class CargoCollectionAuthorization extends RamfMessage<CargoCollectionRequest> {
  static readonly TYPE = MessageType.CARGO_COLLECTION_AUTHORIZATION;
  protected readonly messageType = CargoCollectionAuthorization.TYPE;

  static async deserialize(serialization: Buffer): Promise<CargoCollectionAuthorization> {
    const fields = await deserializeRamf(serialization, CargoCollectionAuthorization.TYPE);
    return new CargoCollectionAuthorization(fields.recipient, fields.senderCertificate, fields.payload, fields);
  }

  protected deserializePayload(plaintext: Buffer): CargoCollectionRequest {
    return CargoCollectionRequest.deserialize(plaintext);
  }
}
