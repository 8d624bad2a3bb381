import {
  MAX_HANDSHAKE_RESPONSE_LENGTH,
  MAX_REFUSAL_REASON_LENGTH,
  MAX_REGISTRATION_BODY_LENGTH,
  MAX_VARCHAR_LENGTH,
  NONCE_LENGTH,
  PacketTag,
  QuitReason,
  type RefusalDisposition,
  type RegistrationStatus,
} from './constants';
import { CoSocketError } from './errors';

/** A decoded RS-004 packet (plus this implementation's CCA Delivery extension). */
export type Packet =
  | { readonly tag: PacketTag.HANDSHAKE_CHALLENGE; readonly nonce: Buffer }
  | { readonly tag: PacketTag.HANDSHAKE_RESPONSE; readonly signatures: readonly Buffer[] }
  | { readonly tag: PacketTag.HANDSHAKE_COMPLETE }
  /** `cca` is null when the length is zero (collection without a CCA, e.g. at the user gateway). */
  | { readonly tag: PacketTag.CARGO_COLLECTION_REQUEST; readonly cca: Buffer | null }
  | { readonly tag: PacketTag.CARGO_DELIVERY; readonly deliveryId: string; readonly cargo: Buffer }
  | { readonly tag: PacketTag.CCA_DELIVERY; readonly deliveryId: string; readonly cca: Buffer }
  | { readonly tag: PacketTag.CARGO_COLLECTION; readonly deliveryId: string }
  | { readonly tag: PacketTag.CARGO_DELIVERY_COMPLETION; readonly gatewayAddress: string }
  /** `subject` is a delivery id, or empty for the pending collection request. */
  | {
      readonly tag: PacketTag.REFUSAL;
      readonly subject: string;
      readonly disposition: RefusalDisposition;
      readonly reason: string;
    }
  | { readonly tag: PacketTag.REGISTRATION_EXCHANGE; readonly body: Buffer }
  | { readonly tag: PacketTag.REGISTRATION_RESULT; readonly status: RegistrationStatus; readonly body: Buffer }
  | { readonly tag: PacketTag.QUIT; readonly reason: number };

function tagBuffer(tag: PacketTag): Buffer {
  const buffer = Buffer.allocUnsafe(2);
  buffer.writeUInt16LE(tag, 0);
  return buffer;
}

function uint32(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(4);
  buffer.writeUInt32LE(value, 0);
  return buffer;
}

/** Encode a varchar (uint8 length ‖ UTF-8); throws if longer than 255 octets. */
export function encodeVarchar(value: string): Buffer {
  const text = Buffer.from(value, 'utf8');
  if (text.length > MAX_VARCHAR_LENGTH) {
    throw new CoSocketError(`varchar is ${text.length} octets; at most ${MAX_VARCHAR_LENGTH} allowed`);
  }
  return Buffer.concat([Buffer.from([text.length]), text]);
}

/**
 * Encode a packet as a list of buffers to write in order. Large bodies (cargo, CCA) are returned as-is,
 * never copied, so a 9 MiB message is buffered only once.
 */
export function encodePacket(packet: Packet): Buffer[] {
  const tag = tagBuffer(packet.tag);
  switch (packet.tag) {
    case PacketTag.HANDSHAKE_CHALLENGE:
      if (packet.nonce.length !== NONCE_LENGTH) throw new CoSocketError(`Nonce must be ${NONCE_LENGTH} octets`);
      return [tag, packet.nonce];
    case PacketTag.HANDSHAKE_RESPONSE: {
      const parts = packet.signatures.flatMap((signature) => [uint32(signature.length), signature]);
      const total = parts.reduce((sum, part) => sum + part.length, 0);
      if (total > MAX_HANDSHAKE_RESPONSE_LENGTH) throw new CoSocketError('Handshake response too large');
      return [tag, uint32(total), ...parts];
    }
    case PacketTag.HANDSHAKE_COMPLETE:
      return [tag];
    case PacketTag.CARGO_COLLECTION_REQUEST:
      return packet.cca ? [tag, uint32(packet.cca.length), packet.cca] : [tag, uint32(0)];
    case PacketTag.CARGO_DELIVERY:
      return [Buffer.concat([tag, encodeVarchar(packet.deliveryId), uint32(packet.cargo.length)]), packet.cargo];
    case PacketTag.CCA_DELIVERY:
      return [Buffer.concat([tag, encodeVarchar(packet.deliveryId), uint32(packet.cca.length)]), packet.cca];
    case PacketTag.CARGO_COLLECTION:
      return [Buffer.concat([tag, encodeVarchar(packet.deliveryId)])];
    case PacketTag.CARGO_DELIVERY_COMPLETION:
      return [Buffer.concat([tag, encodeVarchar(packet.gatewayAddress)])];
    case PacketTag.REFUSAL: {
      const header = Buffer.allocUnsafe(3);
      const reason = truncateUtf8(packet.reason, MAX_REFUSAL_REASON_LENGTH);
      header.writeUInt8(packet.disposition, 0);
      header.writeUInt16LE(reason.length, 1);
      return [Buffer.concat([tag, encodeVarchar(packet.subject), header]), reason];
    }
    case PacketTag.REGISTRATION_EXCHANGE:
      checkRegistrationBody(packet.body);
      return [tag, uint32(packet.body.length), packet.body];
    case PacketTag.REGISTRATION_RESULT:
      checkRegistrationBody(packet.body);
      return [tag, Buffer.from([packet.status]), uint32(packet.body.length), packet.body];
    case PacketTag.QUIT: {
      const reason = Buffer.allocUnsafe(2);
      reason.writeUInt16LE(packet.reason, 0);
      return [tag, reason];
    }
  }
}

function checkRegistrationBody(body: Buffer): void {
  if (body.length > MAX_REGISTRATION_BODY_LENGTH) {
    throw new CoSocketError(`Registration body of ${body.length} octets exceeds ${MAX_REGISTRATION_BODY_LENGTH}`);
  }
}

/** The UTF-8 of `text`, cut to at most `limit` octets without splitting a character. */
function truncateUtf8(text: string, limit: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return bytes;
  let end = limit;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // back to the start of a character
  return bytes.subarray(0, end);
}

export function encodeQuit(reason: QuitReason): Buffer {
  return Buffer.concat(encodePacket({ tag: PacketTag.QUIT, reason }));
}
