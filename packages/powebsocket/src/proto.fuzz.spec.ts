/**
 * Fuzzing of the PoWebSocket message codecs: the tagged operation messages and the three untagged
 * handshake messages. Arbitrary bytes and mutated valid encodings must decode or throw
 * MalformedMessageError (which the peer turns into close code 1003), nothing else; decoded strings
 * respect their length caps.
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see test-support/src/fuzz.ts).
 */
import fc from 'fast-check';

import {
  applyMutations,
  arbitraryBytes,
  expectTypedOutcome,
  FuzzCounter,
  fuzzParameters,
  FUZZ_TEST_TIMEOUT_MS,
  mutations,
} from '@twitter-relaynet/test-support';

import {
  decodeChallenge,
  decodeComplete,
  decodeOperation,
  decodeResponse,
  encodeChallenge,
  encodeComplete,
  encodeEndpointCertificateRequest,
  encodeEndpointCertificateResponse,
  encodeParcelCollectionRequest,
  encodeParcelDeliveryAck,
  encodeParcelDeliveryComplete,
  encodeParcelDeliveryDeauthorization,
  encodeParcelDeliveryPrefix,
  encodeResponse,
  MalformedMessageError,
  MAX_DELIVERY_ID_LENGTH,
  MessageTag,
} from './proto';

const counter = new FuzzCounter('powebsocket messages');
afterAll(() => counter.report());

const bytes = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b));
const id = fc.string({ minLength: 1, maxLength: 40 });

const validOperation: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .tuple(id, bytes)
    .map(([deliveryId, parcel]) => Buffer.concat([encodeParcelDeliveryPrefix(deliveryId, parcel.length), parcel])),
  id.map(encodeParcelDeliveryAck),
  fc.boolean().map(encodeParcelCollectionRequest),
  fc.constant(0).map(() => encodeParcelDeliveryComplete()),
  bytes.map(encodeEndpointCertificateRequest),
  fc.tuple(bytes, bytes).map(([a, b]) => encodeEndpointCertificateResponse(a, b)),
  fc
    .record({
      id,
      endpointAddress: fc.string({ maxLength: 60 }),
      pdaSerialNumbers: fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
      expiry: fc.option(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }), { nil: undefined }),
    })
    .map((pdd) => encodeParcelDeliveryDeauthorization(pdd)),
);

function checkOperation(input: Buffer): void {
  const decoded = expectTypedOutcome(() => decodeOperation(input), [MalformedMessageError], input);
  if (!decoded) return;
  if ('id' in decoded.message && decoded.message.id.length > MAX_DELIVERY_ID_LENGTH) {
    throw new Error(`Delivery id of ${decoded.message.id.length} characters accepted`);
  }
  if (decoded.tag === MessageTag.ParcelDelivery && decoded.message.id === '')
    throw new Error('Empty delivery id accepted');
}

const handshakeDecoders = [
  ['challenge', (b: Buffer) => decodeChallenge(b)],
  ['response', (b: Buffer) => decodeResponse(b)],
  ['complete', (b: Buffer) => decodeComplete(b)],
] as const;

const validHandshake: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uuid().map(encodeChallenge),
  fc.array(bytes, { maxLength: 3 }).map(encodeResponse),
  fc.boolean().map(encodeComplete),
);

function checkHandshake(input: Buffer): void {
  for (const [, decode] of handshakeDecoders) {
    expectTypedOutcome(() => decode(input), [MalformedMessageError], input);
  }
}

test(
  'operation messages: arbitrary bytes decode or raise MalformedMessageError',
  () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), arbitraryBytes, (tag, rest) => {
        counter.count();
        checkOperation(Buffer.concat([Buffer.from([tag]), rest]));
      }),
      fuzzParameters('powebsocket / operation bytes'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'operation messages: mutated valid encodings decode or raise MalformedMessageError',
  () => {
    fc.assert(
      fc.property(validOperation, mutations, (valid, list) => {
        counter.count();
        checkOperation(applyMutations(valid, list));
      }),
      fuzzParameters('powebsocket / operation mutations'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'operation messages: valid encodings decode',
  () => {
    fc.assert(
      fc.property(validOperation, (valid) => {
        counter.count();
        expect(() => decodeOperation(valid)).not.toThrow();
      }),
      fuzzParameters('powebsocket / operation valid'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'handshake messages: arbitrary and mutated bytes decode or raise MalformedMessageError',
  () => {
    fc.assert(
      fc.property(
        fc.oneof(
          arbitraryBytes,
          fc.tuple(validHandshake, mutations).map(([v, list]) => applyMutations(v, list)),
        ),
        (input) => {
          counter.count();
          checkHandshake(input);
        },
      ),
      fuzzParameters('powebsocket / handshake'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);
