import { MAX_MESSAGE_LENGTH, PacketTag, QuitReason } from './constants';
import { PacketDecoder } from './decoder';
import { CoSocketProtocolError } from './errors';
import { encodePacket, encodeVarchar, type Packet } from './packets';

const samples: Packet[] = [
  { tag: PacketTag.HANDSHAKE_CHALLENGE, nonce: Buffer.alloc(32, 7) },
  { tag: PacketTag.HANDSHAKE_RESPONSE, signatures: [Buffer.from('sig-1'), Buffer.alloc(0), Buffer.from('sig-3')] },
  { tag: PacketTag.HANDSHAKE_COMPLETE },
  { tag: PacketTag.CARGO_COLLECTION_REQUEST, cca: Buffer.from('a CCA') },
  { tag: PacketTag.CARGO_COLLECTION_REQUEST, cca: null },
  { tag: PacketTag.CARGO_DELIVERY, deliveryId: 'd-1', cargo: Buffer.from('cargo bytes') },
  { tag: PacketTag.CCA_DELIVERY, deliveryId: 'ünïcode-id', cca: Buffer.from('fresh CCA') },
  { tag: PacketTag.CARGO_COLLECTION, deliveryId: 'x'.repeat(255) },
  { tag: PacketTag.CARGO_DELIVERY_COMPLETION, gatewayAddress: 'rng+socket://gw.example' },
  { tag: PacketTag.CARGO_DELIVERY_COMPLETION, gatewayAddress: '' },
  { tag: PacketTag.QUIT, reason: QuitReason.QUOTA_REACHED },
];

const wire = (packet: Packet) => Buffer.concat(encodePacket(packet));

function decodeAll(bytes: Buffer, chunkSize: number): Packet[] {
  const decoder = new PacketDecoder();
  const packets: Packet[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) packets.push(...decoder.push(bytes.subarray(i, i + chunkSize)));
  expect(decoder.midPacket).toBe(false);
  return packets;
}

function decodeError(bytes: Buffer): CoSocketProtocolError {
  try {
    new PacketDecoder().push(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(CoSocketProtocolError);
    return error as CoSocketProtocolError;
  }
  throw new Error('expected a protocol error');
}

describe('PacketDecoder', () => {
  it.each(samples.map((p) => [PacketTag[p.tag], p] as const))('round-trips %s', (_name, packet) => {
    expect(decodeAll(wire(packet), 1 << 16)).toEqual([packet]);
  });

  it('uses little-endian uint16 tags (0xf0 is f0 00 on the wire)', () => {
    expect(wire(samples[0]).subarray(0, 2)).toEqual(Buffer.from([0xf0, 0x00]));
    expect(wire({ tag: PacketTag.QUIT, reason: 1 })).toEqual(Buffer.from([0xff, 0x00, 0x01, 0x00]));
  });

  it('decodes the same packets whatever the chunk boundaries', () => {
    const stream = Buffer.concat(samples.map(wire));
    for (const size of [1, 2, 3, 5, 7, 13, 64, 1000]) {
      expect(decodeAll(stream, size)).toEqual(samples);
    }
  });

  it('copies a body once into a buffer of the announced size, and reports what it holds', () => {
    const decoder = new PacketDecoder();
    const cargo = Buffer.alloc(100_000, 1);
    const bytes = wire({ tag: PacketTag.CARGO_DELIVERY, deliveryId: 'big', cargo });
    expect(decoder.push(bytes.subarray(0, 50_000))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(100_000);
    expect(decoder.midPacket).toBe(true);
    const [packet] = decoder.push(bytes.subarray(50_000));
    expect(packet).toEqual({ tag: PacketTag.CARGO_DELIVERY, deliveryId: 'big', cargo });
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('does not keep a reference to the caller chunk for partial headers', () => {
    const decoder = new PacketDecoder();
    const bytes = wire({ tag: PacketTag.CARGO_COLLECTION, deliveryId: 'abc' });
    const chunk = Buffer.from(bytes.subarray(0, 3));
    decoder.push(chunk);
    chunk.fill(0);
    expect(decoder.push(bytes.subarray(3))).toEqual([{ tag: PacketTag.CARGO_COLLECTION, deliveryId: 'abc' }]);
  });

  describe('refuses malformed input with INVALID_PACKET', () => {
    const tag = (t: number) => Buffer.from([t & 0xff, t >> 8]);
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    it.each([
      ['unknown tag', tag(0x0005), /Unknown packet tag 0x0005/],
      ['big-endian tag', Buffer.from([0x00, 0xff]), /Unknown packet tag 0xff00/],
      ['fd variant', tag(0x02), /not supported/],
      [
        'oversized cargo',
        Buffer.concat([tag(1), encodeVarchar('a'), u32(MAX_MESSAGE_LENGTH + 1)]),
        /exceeds the limit/,
      ],
      ['oversized CCA', Buffer.concat([tag(0), u32(MAX_MESSAGE_LENGTH + 1)]), /CCA of .* exceeds/],
      ['empty cargo', Buffer.concat([tag(1), encodeVarchar('a'), u32(0)]), /Cargo is empty/],
      ['empty CCA delivery', Buffer.concat([tag(0x10), encodeVarchar('a'), u32(0)]), /CCA is empty/],
      ['empty delivery id', Buffer.concat([tag(1), encodeVarchar(''), u32(1)]), /Delivery id is empty/],
      ['empty ack id', Buffer.concat([tag(3), encodeVarchar('')]), /Delivery id is empty/],
      ['invalid UTF-8 id', Buffer.concat([tag(3), Buffer.from([1, 0xff])]), /not valid UTF-8/],
      ['oversized handshake response', Buffer.concat([tag(0xf1), u32(2_000_000)]), /Handshake response/],
      ['signature overrun', Buffer.concat([tag(0xf1), u32(6), u32(10), Buffer.from('ab')]), /overruns/],
      ['truncated signature length', Buffer.concat([tag(0xf1), u32(2), Buffer.from('ab')]), /Truncated signature/],
    ])('%s', (_name, bytes, message) => {
      const error = decodeError(bytes);
      expect(error.message).toMatch(message);
      expect(error.quitReason).toBe(QuitReason.INVALID_PACKET);
    });
  });

  it('refuses to encode a varchar over 255 octets', () => {
    expect(() => encodePacket({ tag: PacketTag.CARGO_COLLECTION, deliveryId: 'é'.repeat(128) })).toThrow(/at most 255/);
  });

  it('honours a smaller maximum message length', () => {
    const decoder = new PacketDecoder({ maxMessageLength: 10 });
    expect(() =>
      decoder.push(wire({ tag: PacketTag.CARGO_DELIVERY, deliveryId: 'a', cargo: Buffer.alloc(11) })),
    ).toThrow(/11 octets exceeds the limit of 10/);
  });
});
