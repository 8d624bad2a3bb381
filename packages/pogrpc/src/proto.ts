import { existsSync } from 'node:fs';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { findProtoFolder } from '@twitter-relaynet/core';

import { PogRPCError } from './errors';

/** `proto/pogrpc.proto` in the repository's `proto/` folder, found as every package finds its `.proto` files. */
export const POGRPC_PROTO_PATH = join(findProtoFolder(['pogrpc.proto'], __dirname), 'pogrpc.proto');

export interface ParcelDeliveryMessage {
  id: string;
  parcel: Buffer;
}

export interface ParcelDeliveryAckMessage {
  id: string;
}

export interface PogRPCServiceDefinition {
  readonly service: grpc.ServiceDefinition;
  readonly Client: grpc.ServiceClientConstructor;
}

let cached: PogRPCServiceDefinition | null = null;

/** Load the `relaynet.pogrpc.PogRPC` service definition (cached). */
export function loadPogRPCService(protoPath = POGRPC_PROTO_PATH): PogRPCServiceDefinition {
  if (cached && protoPath === POGRPC_PROTO_PATH) return cached;
  if (!existsSync(protoPath)) throw new PogRPCError(`PogRPC proto file not found at ${protoPath}`);
  const pkg = loadGrpcPackage(protoPath) as unknown as {
    relaynet: { pogrpc: { PogRPC: grpc.ServiceClientConstructor } };
  };
  const Client = pkg.relaynet.pogrpc.PogRPC;
  const result = { service: Client.service, Client };
  if (protoPath === POGRPC_PROTO_PATH) cached = result;
  return result;
}

/** Load a binding's .proto; absent `id` or payload fields decode as "" / an empty buffer, which receivers refuse. */
export function loadGrpcPackage(protoPath: string): grpc.GrpcObject {
  const definition = protoLoader.loadSync(protoPath, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}
