import { existsSync } from 'node:fs';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { protobufVarint as varint } from '@twitter-relaynet/core';
import { loadGrpcPackage } from '@twitter-relaynet/pogrpc';

import { CogRPCError } from './errors';

/** `proto/cogrpc.proto` at the repository root (same depth from `src/` and `dist/`). */
export const COGRPC_PROTO_PATH = join(__dirname, '..', '..', '..', 'proto', 'cogrpc.proto');

/**
 * `awala` = RS-008 as written (`awala.cogrpc`, `Awala-CCA`); `relaynet` = the deployed implementations
 * (`relaynet.cogrpc`, `Relaynet-CCA`). The messages are identical.
 */
export type CogRPCDialect = 'awala' | 'relaynet';

export const COGRPC_DIALECTS: readonly CogRPCDialect[] = ['awala', 'relaynet'];

export interface CogRPCServiceDefinition {
  readonly service: grpc.ServiceDefinition;
  readonly Client: grpc.ServiceClientConstructor;
}

const cache = new Map<CogRPCDialect, CogRPCServiceDefinition>();

/** The `CargoRelay` service under the package name of `dialect` (cached). */
export function loadCogRPCService(dialect: CogRPCDialect = 'awala'): CogRPCServiceDefinition {
  const cached = cache.get(dialect);
  if (cached) return cached;
  if (!existsSync(COGRPC_PROTO_PATH)) throw new CogRPCError(`CogRPC proto file not found at ${COGRPC_PROTO_PATH}`);
  const pkg = loadGrpcPackage(COGRPC_PROTO_PATH) as unknown as {
    awala: { cogrpc: { CargoRelay: grpc.ServiceClientConstructor } };
  };
  let service: grpc.ServiceDefinition = withCargoSerializer(pkg.awala.cogrpc.CargoRelay.service);
  if (dialect === 'relaynet') {
    service = Object.fromEntries(
      Object.entries(service).map(([name, method]) => [
        name,
        { ...method, path: method.path.replace(/^\/awala\.cogrpc\./, '/relaynet.cogrpc.') },
      ]),
    ) as grpc.ServiceDefinition;
  }
  const result = { service, Client: grpc.makeGenericClientConstructor(service, 'CargoRelay') };
  cache.set(dialect, result);
  return result;
}

/**
 * The service with `CargoDelivery` serialized by `serializeCargoDelivery` instead of protobuf.js (decoding is
 * unchanged): the same octets, one copy of each cargo fewer.
 */
function withCargoSerializer(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const serialize = serializeCargoDelivery as unknown as grpc.serialize<unknown>;
  return {
    ...service,
    DeliverCargo: { ...service.DeliverCargo, requestSerialize: serialize },
    CollectCargo: { ...service.CollectCargo, responseSerialize: serialize },
  };
}

/** A `CargoDelivery` serialized, as grpc-js uses it: its length, and a copy into the buffer grpc-js frames it in. */
export interface SerializedCargoDelivery {
  readonly length: number;
  readonly byteLength: number;
  copy(target: Uint8Array, targetStart?: number): number;
}

/**
 * `CargoDelivery {id = 1, cargo = 2}` in protobuf's wire format, as protobuf.js writes it (both fields, even
 * empty), without copying the cargo. protobuf.js copies the cargo into the message's buffer, and grpc-js then
 * copies that buffer into the one it frames the message in: two fresh 9 MiB buffers for each cargo, the copies and
 * the garbage collections they bring showing in profiles of the relaying gateway (collection) and of the relay
 * (delivery). grpc-js reads only the length of what a serializer returns and copies it once into its frame
 * (`copy(frame, 5)`): this object writes the few octets of the fields' tags and lengths and then the cargo
 * straight into that frame.
 */
export function serializeCargoDelivery(message: {
  readonly id: string;
  readonly cargo: Buffer;
}): SerializedCargoDelivery {
  const id = Buffer.from(message.id ?? '', 'utf8');
  const cargo = message.cargo ?? Buffer.alloc(0);
  const head = Buffer.concat([Buffer.from([0x0a]), varint(id.length), id, Buffer.from([0x12]), varint(cargo.length)]);
  const length = head.length + cargo.length;
  return {
    length,
    byteLength: length,
    copy(target, targetStart = 0) {
      head.copy(target, targetStart);
      cargo.copy(target, targetStart + head.length);
      return length;
    },
  };
}
