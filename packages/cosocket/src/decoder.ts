import {
  MAX_HANDSHAKE_RESPONSE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MAX_REFUSAL_REASON_LENGTH,
  MAX_REGISTRATION_BODY_LENGTH,
  NONCE_LENGTH,
  PacketTag,
  RefusalDisposition,
  RegistrationStatus,
} from './constants';
import { CoSocketProtocolError } from './errors';
import type { Packet } from './packets';

/** A parsed header: either a complete packet, or the start of one whose body follows. */
type Header =
  | { readonly length: number; readonly packet: Packet }
  | { readonly length: number; readonly bodyLength: number; readonly finish: (body: Buffer) => Packet };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface DecoderOptions {
  /** Largest cargo or CCA body accepted. */
  readonly maxMessageLength?: number;
}

/**
 * Incremental RS-004 packet decoder. Feed it socket chunks; it returns whole packets. Message bodies are
 * copied exactly once, into a buffer of the announced size allocated after the length is checked. Any
 * framing violation throws `CoSocketProtocolError` (the decoder is then unusable).
 */
export class PacketDecoder {
  private readonly maxMessageLength: number;
  /** Leftover header octets (fewer than the longest header: tag + varchar + uint32). */
  private pending: Buffer = Buffer.alloc(0);
  private body: { buffer: Buffer; filled: number; finish: (body: Buffer) => Packet } | null = null;

  public constructor(options: DecoderOptions = {}) {
    this.maxMessageLength = options.maxMessageLength ?? MAX_MESSAGE_LENGTH;
  }

  /** Octets held for a packet not yet complete (header leftovers plus the partially-filled body). */
  public get bufferedBytes(): number {
    return this.pending.length + (this.body?.buffer.length ?? 0);
  }

  /** True if the decoder is in the middle of a packet. */
  public get midPacket(): boolean {
    return this.pending.length > 0 || this.body !== null;
  }

  public push(chunk: Buffer): Packet[] {
    const packets: Packet[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (this.body) {
        const { buffer, filled } = this.body;
        const take = Math.min(buffer.length - filled, data.length);
        data.copy(buffer, filled, 0, take);
        this.body.filled += take;
        data = data.subarray(take);
        if (this.body.filled === buffer.length) {
          packets.push(this.body.finish(buffer));
          this.body = null;
        }
        continue;
      }
      const input = this.pending.length ? Buffer.concat([this.pending, data]) : data;
      const header = this.parseHeader(input);
      if (!header) {
        this.pending = Buffer.from(input); // own the bytes: `data` may be reused by the caller
        return packets;
      }
      this.pending = Buffer.alloc(0);
      data = input.subarray(header.length);
      if ('packet' in header) {
        packets.push(header.packet);
      } else if (header.bodyLength === 0) {
        packets.push(header.finish(Buffer.alloc(0)));
      } else {
        this.body = { buffer: Buffer.allocUnsafe(header.bodyLength), filled: 0, finish: header.finish };
      }
    }
    return packets;
  }

  /** Parse a header at the start of `input`, or return null if more octets are needed. */
  private parseHeader(input: Buffer): Header | null {
    if (input.length < 2) return null;
    const tag = input.readUInt16LE(0);
    switch (tag) {
      case PacketTag.HANDSHAKE_CHALLENGE:
        return { length: 2, bodyLength: NONCE_LENGTH, finish: (nonce) => ({ tag, nonce }) };
      case PacketTag.HANDSHAKE_RESPONSE: {
        if (input.length < 6) return null;
        const total = input.readUInt32LE(2);
        if (total > MAX_HANDSHAKE_RESPONSE_LENGTH) {
          throw new CoSocketProtocolError(`Handshake response of ${total} octets exceeds the limit`);
        }
        return { length: 6, bodyLength: total, finish: (body) => ({ tag, signatures: parseSignatures(body) }) };
      }
      case PacketTag.HANDSHAKE_COMPLETE:
        return { length: 2, packet: { tag } };
      case PacketTag.CARGO_COLLECTION_REQUEST: {
        if (input.length < 6) return null;
        const length = this.checkMessageLength(input.readUInt32LE(2), 'CCA', true);
        return { length: 6, bodyLength: length, finish: (cca) => ({ tag, cca: cca.length ? cca : null }) };
      }
      case PacketTag.CARGO_DELIVERY:
      case PacketTag.CCA_DELIVERY: {
        const id = readVarchar(input, 2);
        if (!id) return null;
        if (!id.value) throw new CoSocketProtocolError('Delivery id is empty');
        if (input.length < id.end + 4) return null;
        const what = tag === PacketTag.CARGO_DELIVERY ? 'Cargo' : 'CCA';
        const length = this.checkMessageLength(input.readUInt32LE(id.end), what, false);
        const deliveryId = id.value;
        return {
          length: id.end + 4,
          bodyLength: length,
          finish: (body) =>
            tag === PacketTag.CARGO_DELIVERY ? { tag, deliveryId, cargo: body } : { tag, deliveryId, cca: body },
        };
      }
      case PacketTag.CARGO_COLLECTION: {
        const id = readVarchar(input, 2);
        if (!id) return null;
        if (!id.value) throw new CoSocketProtocolError('Delivery id is empty');
        return { length: id.end, packet: { tag, deliveryId: id.value } };
      }
      case PacketTag.CARGO_DELIVERY_COMPLETION: {
        const address = readVarchar(input, 2);
        if (!address) return null;
        return { length: address.end, packet: { tag, gatewayAddress: address.value } };
      }
      case PacketTag.REFUSAL: {
        const subject = readVarchar(input, 2);
        if (!subject) return null;
        if (input.length < subject.end + 3) return null;
        const disposition = input[subject.end];
        if (disposition !== RefusalDisposition.FINAL && disposition !== RefusalDisposition.LATER) {
          throw new CoSocketProtocolError(`Unknown refusal disposition 0x${disposition.toString(16)}`);
        }
        const length = input.readUInt16LE(subject.end + 1);
        if (length > MAX_REFUSAL_REASON_LENGTH) {
          throw new CoSocketProtocolError(`Refusal reason of ${length} octets exceeds the limit`);
        }
        return {
          length: subject.end + 3,
          bodyLength: length,
          finish: (body) => ({ tag, subject: subject.value, disposition, reason: decodeUtf8(body, 'Refusal reason') }),
        };
      }
      case PacketTag.REGISTRATION_EXCHANGE: {
        if (input.length < 6) return null;
        const length = checkRegistrationLength(input.readUInt32LE(2));
        return { length: 6, bodyLength: length, finish: (body) => ({ tag, body }) };
      }
      case PacketTag.REGISTRATION_RESULT: {
        if (input.length < 7) return null;
        const status = input[2];
        if (status !== RegistrationStatus.ANSWERED && status !== RegistrationStatus.REFUSED) {
          throw new CoSocketProtocolError(`Unknown registration status 0x${status.toString(16)}`);
        }
        const length = checkRegistrationLength(input.readUInt32LE(3));
        return { length: 7, bodyLength: length, finish: (body) => ({ tag, status, body }) };
      }
      case PacketTag.QUIT:
        if (input.length < 4) return null;
        return { length: 4, packet: { tag, reason: input.readUInt16LE(2) } };
      case PacketTag.CARGO_DELIVERY_FD:
        throw new CoSocketProtocolError('File-descriptor cargo delivery (0x02) is not supported');
      default:
        throw new CoSocketProtocolError(`Unknown packet tag 0x${tag.toString(16).padStart(4, '0')}`);
    }
  }

  private checkMessageLength(length: number, what: string, allowEmpty: boolean): number {
    if (length === 0 && !allowEmpty) throw new CoSocketProtocolError(`${what} is empty`);
    if (length > this.maxMessageLength) {
      throw new CoSocketProtocolError(`${what} of ${length} octets exceeds the limit of ${this.maxMessageLength}`);
    }
    return length;
  }
}

function checkRegistrationLength(length: number): number {
  if (length > MAX_REGISTRATION_BODY_LENGTH) {
    throw new CoSocketProtocolError(
      `Registration body of ${length} octets exceeds the limit of ${MAX_REGISTRATION_BODY_LENGTH}`,
    );
  }
  return length;
}

function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new CoSocketProtocolError(`${what} is not valid UTF-8`);
  }
}

function readVarchar(input: Buffer, offset: number): { value: string; end: number } | null {
  if (input.length < offset + 1) return null;
  const length = input[offset];
  const end = offset + 1 + length;
  if (input.length < end) return null;
  return { value: decodeUtf8(input.subarray(offset + 1, end), 'varchar'), end };
}

function parseSignatures(body: Buffer): Buffer[] {
  const signatures: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (body.length - offset < 4) throw new CoSocketProtocolError('Truncated signature length in handshake response');
    const length = body.readUInt32LE(offset);
    offset += 4;
    if (length > body.length - offset) throw new CoSocketProtocolError('Signature overruns the handshake response');
    signatures.push(body.subarray(offset, offset + length));
    offset += length;
  }
  return signatures;
}
