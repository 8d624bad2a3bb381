import { randomBytes } from 'node:crypto';

import { loadGrpcPackage } from '@twitter-relaynet/pogrpc';

import { MAX_CARGO_LENGTH } from '../src/constants';
import { COGRPC_PROTO_PATH, loadCogRPCService, serializeCargoDelivery } from '../src/proto';

/** protobuf.js's own CargoDelivery serializer (what `loadCogRPCService` replaces). */
const reference = (
  loadGrpcPackage(COGRPC_PROTO_PATH) as unknown as {
    awala: { cogrpc: { CargoRelay: { service: Record<string, { requestSerialize(m: unknown): Buffer }> } } };
  }
).awala.cogrpc.CargoRelay.service.DeliverCargo;

/** What grpc-js does with a serializer's output: copy it after its 5-octet frame header. */
function framed(serialized: { length: number; copy(target: Uint8Array, targetStart?: number): number }): Buffer {
  const frame = Buffer.alloc(serialized.length + 5, 0xee);
  serialized.copy(frame, 5);
  return frame.subarray(5);
}

describe('CargoDelivery serialization', () => {
  const cases: Array<[string, string, number]> = [
    ['a UUID and a small cargo', 'b3a1c1de-5d0e-4c3e-9f8c-2a4f5d6e7f80', 3],
    ['an empty id', '', 5],
    ['an empty cargo', 'id', 0],
    ['a non-ASCII id of more than 127 octets', 'é'.repeat(100), 200],
    ['the largest cargo', 'id', MAX_CARGO_LENGTH],
  ];

  test.each(cases)('is the octets protobuf.js writes, with %s', (_, id, cargoLength) => {
    const message = { id, cargo: randomBytes(cargoLength) };
    const serialized = serializeCargoDelivery(message);
    const expected = reference.requestSerialize(message);
    expect(serialized.length).toBe(expected.length);
    expect(serialized.byteLength).toBe(expected.length);
    expect(framed(serialized).equals(expected)).toBe(true);
  });

  test('decodes with the service deserializer, in both dialects and both directions', () => {
    const message = { id: 'delivery-1', cargo: randomBytes(70_000) };
    for (const dialect of ['awala', 'relaynet'] as const) {
      const { DeliverCargo, CollectCargo } = loadCogRPCService(dialect).service;
      const directions: Array<[(value: unknown) => unknown, (octets: Buffer) => unknown]> = [
        [DeliverCargo.requestSerialize, DeliverCargo.requestDeserialize],
        [CollectCargo.responseSerialize, CollectCargo.responseDeserialize],
      ];
      for (const [serialize, deserialize] of directions) {
        const serialized = serialize(message) as ReturnType<typeof serializeCargoDelivery>;
        const decoded = deserialize(framed(serialized)) as { id: string; cargo: Buffer };
        expect(decoded.id).toBe(message.id);
        expect(Buffer.compare(decoded.cargo, message.cargo)).toBe(0);
      }
    }
  });
});
