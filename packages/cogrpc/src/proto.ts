import { existsSync } from 'node:fs';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
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
  let service: grpc.ServiceDefinition = pkg.awala.cogrpc.CargoRelay.service;
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
