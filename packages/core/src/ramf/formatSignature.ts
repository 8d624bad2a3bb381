import { RelaynetSyntaxError } from '../errors';
import { FORMAT_SIGNATURE_LENGTH, FORMAT_SIGNATURE_PREFIX } from './limits';

export const MessageType = {
  PARCEL: 0x50,
  CARGO: 0x43,
  CARGO_COLLECTION_AUTHORIZATION: 0x44,
  PARCEL_COLLECTION_ACK: 0x51,
  CERTIFICATE_ROTATION: 0x10,
} as const;
export type MessageTypeOctet = (typeof MessageType)[keyof typeof MessageType];

export const MESSAGE_VERSION = 0x00;

const TYPE_NAMES: Record<number, string> = {
  [MessageType.PARCEL]: 'parcel',
  [MessageType.CARGO]: 'cargo',
  [MessageType.CARGO_COLLECTION_AUTHORIZATION]: 'cargo collection authorization',
  [MessageType.PARCEL_COLLECTION_ACK]: 'parcel collection acknowledgement',
  [MessageType.CERTIFICATE_ROTATION]: 'certificate rotation',
};

export function describeMessageType(type: number): string {
  return TYPE_NAMES[type] ?? `unknown type 0x${type.toString(16).padStart(2, '0')}`;
}

export function makeFormatSignature(type: number, version = MESSAGE_VERSION): Buffer {
  return Buffer.concat([FORMAT_SIGNATURE_PREFIX, Buffer.from([type, version])]);
}

/** Read the type octet, checking the "Awala" prefix and the version. Does not check the type. */
export function readMessageType(serialization: Buffer): number {
  if (serialization.length < FORMAT_SIGNATURE_LENGTH) {
    throw new RelaynetSyntaxError(
      `Message is too short to contain a format signature (${serialization.length} octets)`,
    );
  }
  if (!serialization.subarray(0, FORMAT_SIGNATURE_PREFIX.length).equals(FORMAT_SIGNATURE_PREFIX)) {
    throw new RelaynetSyntaxError('Format signature does not begin with "Awala"');
  }
  const version = serialization[FORMAT_SIGNATURE_PREFIX.length + 1];
  if (version !== MESSAGE_VERSION) {
    throw new RelaynetSyntaxError(
      `Unsupported message version 0x${version.toString(16).padStart(2, '0')} (expected 0x00)`,
    );
  }
  return serialization[FORMAT_SIGNATURE_PREFIX.length];
}

export function checkFormatSignature(serialization: Buffer, expectedType: number): void {
  const type = readMessageType(serialization);
  if (type !== expectedType) {
    throw new RelaynetSyntaxError(
      `Expected a ${describeMessageType(expectedType)} (0x${expectedType.toString(16)}) but got ` +
        `${describeMessageType(type)} (0x${type.toString(16).padStart(2, '0')})`,
    );
  }
}
