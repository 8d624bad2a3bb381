/**
 * Fuzzing of the CoSocket (RS-004) packet decoder: arbitrary bytes, mutated streams of valid
 * packets, each fed in random chunks as a socket would. The decoder must return packets or throw
 * CoSocketProtocolError, never anything else, and never hold more than the announced (and
 * bounded) body plus one header. Unmutated streams must decode to the packets encoded, whatever the
 * chunking.
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see test-support/src/fuzz.ts).
 */
import fc from 'fast-check';

import {
  applyMutations,
  arbitraryBytes,
  chunking,
  FuzzCounter,
  fuzzParameters,
  FUZZ_TEST_TIMEOUT_MS,
  expectTypedOutcome,
  mutations,
  splitAt,
} from '@twitter-relaynet/test-support';

import { MAX_FRAME_OVERHEAD, NONCE_LENGTH, PacketTag } from './constants';
import { PacketDecoder } from './decoder';
import { CoSocketProtocolError } from './errors';
import { encodePacket, type Packet } from './packets';

/** Small limit so that mutated length fields hit it often. */
const MAX_MESSAGE_LENGTH = 2048;

const counter = new FuzzCounter('cosocket packet decoder');
afterAll(() => counter.report());

const deliveryId = fc.string({ minLength: 1, maxLength: 40 });
const body = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b));

const validPacket: fc.Arbitrary<Packet> = fc.oneof(
  fc
    .uint8Array({ minLength: NONCE_LENGTH, maxLength: NONCE_LENGTH })
    .map((n) => ({ tag: PacketTag.HANDSHAKE_CHALLENGE, nonce: Buffer.from(n) }) as Packet),
  fc.array(body, { maxLength: 3 }).map((signatures) => ({ tag: PacketTag.HANDSHAKE_RESPONSE, signatures }) as Packet),
  fc.constant({ tag: PacketTag.HANDSHAKE_COMPLETE } as Packet),
  fc.option(body, { nil: null }).map((cca) => ({ tag: PacketTag.CARGO_COLLECTION_REQUEST, cca }) as Packet),
  fc.tuple(deliveryId, body).map(([id, cargo]) => ({ tag: PacketTag.CARGO_DELIVERY, deliveryId: id, cargo }) as Packet),
  fc.tuple(deliveryId, body).map(([id, cca]) => ({ tag: PacketTag.CCA_DELIVERY, deliveryId: id, cca }) as Packet),
  deliveryId.map((id) => ({ tag: PacketTag.CARGO_COLLECTION, deliveryId: id }) as Packet),
  fc
    .string({ maxLength: 60 })
    .map((gatewayAddress) => ({ tag: PacketTag.CARGO_DELIVERY_COMPLETION, gatewayAddress }) as Packet),
  fc.integer({ min: 0, max: 0xffff }).map((reason) => ({ tag: PacketTag.QUIT, reason }) as Packet),
);

const validStream = fc.array(validPacket, { minLength: 1, maxLength: 5 });

function encodeStream(packets: readonly Packet[]): Buffer {
  return Buffer.concat(packets.flatMap((packet) => encodePacket(packet)));
}

/** Feed `chunks`; stop at the first protocol error (the connection is then quit). */
function decode(chunks: readonly Buffer[], input: Buffer): Packet[] | undefined {
  const decoder = new PacketDecoder({ maxMessageLength: MAX_MESSAGE_LENGTH });
  return expectTypedOutcome(
    () => {
      const packets: Packet[] = [];
      for (const chunk of chunks) {
        packets.push(...decoder.push(chunk));
        // Never more than one partial header plus one bounded body held.
        if (decoder.bufferedBytes > MAX_FRAME_OVERHEAD + Math.max(MAX_MESSAGE_LENGTH, 1_048_576)) {
          throw new Error(`Decoder holds ${decoder.bufferedBytes} octets`);
        }
      }
      return packets;
    },
    [CoSocketProtocolError],
    input,
  );
}

function normalise(packets: readonly Packet[]): unknown {
  return packets.map((packet) =>
    JSON.parse(JSON.stringify(packet, (_, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v))),
  );
}

test(
  'arbitrary bytes in arbitrary chunks: packets or CoSocketProtocolError',
  () => {
    fc.assert(
      fc.property(arbitraryBytes, chunking, (input, cuts) => {
        counter.count();
        decode(splitAt(input, cuts), input);
      }),
      fuzzParameters('cosocket / bytes'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'arbitrary bytes after a valid tag: packets or CoSocketProtocolError',
  () => {
    const tags = Object.values(PacketTag).filter((v): v is number => typeof v === 'number');
    fc.assert(
      fc.property(fc.constantFrom(...tags), arbitraryBytes, chunking, (tag, rest, cuts) => {
        counter.count();
        const input = Buffer.concat([Buffer.from([tag & 0xff, tag >> 8]), rest]);
        decode(splitAt(input, cuts), input);
      }),
      fuzzParameters('cosocket / tagged bytes'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'mutated streams of valid packets: packets or CoSocketProtocolError',
  () => {
    fc.assert(
      fc.property(validStream, mutations, chunking, (packets, list, cuts) => {
        counter.count();
        const input = applyMutations(encodeStream(packets), list);
        decode(splitAt(input, cuts), input);
      }),
      fuzzParameters('cosocket / mutations'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'valid streams decode to the packets encoded, whatever the chunking',
  () => {
    fc.assert(
      fc.property(validStream, chunking, (packets, cuts) => {
        counter.count();
        const input = encodeStream(packets);
        const decoded = decode(splitAt(input, cuts), input);
        expect(decoded && normalise(decoded)).toEqual(normalise(packets));
      }),
      fuzzParameters('cosocket / round trip'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);
