/**
 * A CogRPC server in front of a real relaying gateway (packages/gateway, memory stores), with a real user gateway
 * to make cargo and CCAs: what a courier meets at the Internet end.
 */
import { createCogRPCServer, type CogRPCServer, type ServerTls } from '@twitter-relaynet/cogrpc';
import { MemoryLogger } from '@twitter-relaynet/core';
import { makeParcelToAdapter, makeParcelToApp, makeWorld, type World } from '@twitter-relaynet/test-support/gateway';

import { toCogRPCRefusal } from '../src/cogrpc';

export interface GatewayServer {
  readonly world: World;
  readonly server: CogRPCServer;
  /** Log lines of the CogRPC server. */
  readonly logger: MemoryLogger;
  /** Ids of the cargo the relaying gateway stored (in order). */
  readonly storedCargoIds: string[];
}

/** `maxCargoSetLength` small enough makes one cargo per parcel, to have more cargo than the window. */
export async function startGatewayServer(tls: ServerTls, maxCargoSetLength?: number): Promise<GatewayServer> {
  const world = await makeWorld({ maxCargoSetLength });
  const logger = new MemoryLogger();
  const storedCargoIds: string[] = [];
  const server = await createCogRPCServer({
    address: '127.0.0.1:0',
    tls,
    logger,
    async storeCargo(cargo) {
      storedCargoIds.push((await world.relaying.receiveCargo(cargo)).cargoId);
    },
    async collectCargo(cca) {
      try {
        const collection = await world.relaying.collectCargo(cca);
        return (async function* () {
          for await (const cargo of collection.cargoes)
            yield { cargo: cargo.serialized, acknowledged: async () => undefined };
        })();
      } catch (error) {
        throw toCogRPCRefusal(error);
      }
    },
  });
  return { world, server, logger, storedCargoIds };
}

/** Queue `count` parcels from the app at the user gateway and return its cargo for the relaying gateway. */
export async function cargoFromUserGateway(world: World, count: number): Promise<Buffer[]> {
  for (let i = 0; i < count; i++) {
    await world.user.receiveParcelFromEndpoint(
      await makeParcelToAdapter(world, { payload: Buffer.from(`tweet ${i}`) }),
    );
  }
  const cargo: Buffer[] = [];
  for await (const item of world.user.generateCargoForRelayingGateway()) cargo.push(item.serialized);
  return cargo;
}

/** Queue `count` parcels from the Internet for the app at the relaying gateway. */
export async function queueParcelsForUser(world: World, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await world.relaying.receiveParcelFromInternet(
      await makeParcelToApp(world, { payload: Buffer.from(`reply ${i}`) }),
    );
  }
}
