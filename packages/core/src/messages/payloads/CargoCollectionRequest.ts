import { decodeAsn1, expectSequence, readOctetString } from '../../asn1/decode';
import { implicitlyTaggedSequence, octetString } from '../../asn1/encode';
import { RelaynetSyntaxError } from '../../errors';
import { Certificate } from '../../pki/Certificate';

/**
 * The plaintext of a CCA: the Cargo Delivery Authorization that the collecting gateway issued to
 * the gateway it collects from, which signs the cargo it hands over with it.
 */
export class CargoCollectionRequest {
  static deserialize(serialization: Buffer): CargoCollectionRequest {
    let cdaSerialized: Buffer;
    try {
      const items = expectSequence(decodeAsn1(serialization, { ber: true }), 'Cargo collection request');
      if (items.length !== 1) {
        throw new RelaynetSyntaxError(`Cargo collection request must have 1 field (got ${items.length})`);
      }
      cdaSerialized = readOctetString(items[0], 'Cargo delivery authorization', 0);
    } catch (error) {
      if (error instanceof RelaynetSyntaxError) throw error;
      throw new RelaynetSyntaxError('Malformed cargo collection request', { cause: error });
    }
    let cda: Certificate;
    try {
      cda = Certificate.deserialize(cdaSerialized);
    } catch (error) {
      throw new RelaynetSyntaxError('Cargo collection request carries a malformed CDA', { cause: error });
    }
    return new CargoCollectionRequest(cda);
  }

  constructor(public readonly cargoDeliveryAuthorization: Certificate) {}

  serialize(): Buffer {
    return implicitlyTaggedSequence(octetString(this.cargoDeliveryAuthorization.serialize()));
  }
}
