/**
 * Fuzzing of PogRPC message decoding, at two depths:
 * - the `DeliverParcels` request deserializer (proto-loader over protobufjs) on arbitrary and mutated
 *   bytes: it returns a message whose fields have the types the server relies on (string id,
 *   Buffer parcel), or throws an Error that grpc-js turns into a call status;
 * - a real server fed the same bytes as raw gRPC messages by a client with an identity
 *   serializer: every call ends with a status (never a hang), only parcels with a valid id reach
 *   `onParcel`, and afterwards a well-behaved client still gets its parcel acknowledged.
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see test-support/src/fuzz.ts).
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';

import {
  applyMutations,
  arbitraryBytes,
  FuzzCounter,
  fuzzParameters,
  FUZZ_RUNS,
  FUZZ_TEST_TIMEOUT_MS,
  mutations,
} from '@twitter-relaynet/test-support';

import { PogRPCClient } from '../src/client';
import { MAX_DELIVERY_ID_LENGTH } from '../src/constants';
import { loadPogRPCService, type ParcelDeliveryMessage } from '../src/proto';
import { createPogRPCServer, type PogRPCServer } from '../src/server';

const counter = new FuzzCounter('pogrpc messages');
afterAll(() => counter.report());

const { service } = loadPogRPCService();
const method = service.DeliverParcels;

/** A valid serialized ParcelDelivery, as the real client writes it. */
const validMessage: fc.Arbitrary<Buffer> = fc
  .record({ id: fc.string({ maxLength: 40 }), parcel: fc.uint8Array({ maxLength: 200 }) })
  .map(({ id, parcel }) => Buffer.from(method.requestSerialize({ id, parcel: Buffer.from(parcel) })));

const fuzzedMessage: fc.Arbitrary<Buffer> = fc.oneof(
  arbitraryBytes,
  fc.tuple(validMessage, mutations).map(([valid, list]) => applyMutations(valid, list)),
);

test(
  'the request deserializer yields well-typed fields or throws an Error',
  () => {
    fc.assert(
      fc.property(fuzzedMessage, (input) => {
        counter.count();
        let message: ParcelDeliveryMessage;
        try {
          message = method.requestDeserialize(input) as ParcelDeliveryMessage;
        } catch (error) {
          // grpc-js catches this and ends the call with INTERNAL; a non-Error would still be caught.
          expect(error).toBeInstanceOf(Error);
          return;
        }
        expect(typeof message.id).toBe('string');
        expect(Buffer.isBuffer(message.parcel)).toBe(true);
      }),
      fuzzParameters('pogrpc / deserializer'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

describe('a server fed raw messages', () => {
  let server: PogRPCServer;
  const stored: Array<{ id: string; length: number }> = [];
  let raw: grpc.Client;

  beforeAll(async () => {
    server = await createPogRPCServer({
      address: '127.0.0.1:0',
      tls: { insecurePlaintextForTests: true },
      idleTimeoutMs: 2_000,
      onParcel: async (parcel, { deliveryId }) => void stored.push({ id: deliveryId, length: parcel.length }),
    });
    raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    raw?.close();
    await server?.close();
  });

  /** Send `messages` as raw gRPC messages on one DeliverParcels call; resolve with the final status code. */
  function sendRaw(messages: readonly Buffer[]): Promise<number> {
    return new Promise((resolve) => {
      const call = raw.makeBidiStreamRequest(
        `/relaynet.pogrpc.PogRPC/DeliverParcels`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
      );
      call.on('data', () => undefined);
      call.on('error', () => undefined);
      call.on('status', (status: grpc.StatusObject) => resolve(status.code));
      for (const message of messages) call.write(message);
      call.end();
    });
  }

  test(
    'every call ends with a status; only valid ids are stored; a good client is served afterwards',
    async () => {
      // Each case costs a gRPC call: a quarter of the runs keeps this property's time in line with the others.
      await fc.assert(
        fc.asyncProperty(fc.array(fuzzedMessage, { minLength: 1, maxLength: 3 }), async (messages) => {
          counter.count();
          const code = await sendRaw(messages);
          expect(code).not.toBe(grpc.status.DEADLINE_EXCEEDED);
        }),
        fuzzParameters('pogrpc / raw server', Math.max(1, Math.ceil(FUZZ_RUNS / 4))),
      );
      for (const { id, length } of stored) {
        expect(id.length).toBeGreaterThan(0);
        expect(Buffer.byteLength(id)).toBeLessThanOrEqual(MAX_DELIVERY_ID_LENGTH);
        expect(length).toBeGreaterThan(0);
      }
      const good = new PogRPCClient(server.address, { tls: { insecurePlaintextForTests: true } });
      try {
        const report = await good.deliverParcels([{ id: 'good', parcel: Buffer.from('a good parcel') }]);
        expect(report.acked).toEqual(['good']);
      } finally {
        good.close();
      }
      expect(stored.at(-1)).toEqual({ id: 'good', length: 13 });
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
