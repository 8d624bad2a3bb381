import { Cargo, CargoCollectionAuthorization, Parcel } from '@twitter-relaynet/core';

import {
  collect,
  makeParcelToAdapter,
  makeParcelToApp,
  makeWorld,
  type World,
} from '@twitter-relaynet/test-support/gateway';

/** The user gateway's collections: parcels by its endpoints (PoWebSocket), CCA and cargo by a relay (CoSocket). */

let world: World;
beforeEach(async () => {
  world = await makeWorld();
});

async function downstream(ids: readonly string[]): Promise<void> {
  for (const id of ids) await world.relaying.receiveParcelFromInternet(await makeParcelToApp(world, { id }));
  const collection = await world.relaying.collectCargo(await world.user.generateCca());
  for (const cargo of await collect(collection.cargoes)) await world.user.receiveCargo(cargo.serialized);
}

const parcelId = async (serialized: Buffer) => (await Parcel.deserialize(serialized)).id;

test('a collection hands each parcel out once; ack deletes it, nack hands it out again', async () => {
  await downstream(['one', 'two']);
  const appId = world.app.certificate.calculateSubjectId();
  const options = {
    signal: new AbortController().signal,
    keepAlive: false,
    waitForParcels: () => Promise.reject(new Error('not kept alive')),
  };
  const collection = world.user.collectParcels([appId, '0nobody'], options);
  const first = (await collection.next()).value!;
  const second = (await collection.next()).value!;
  expect([await parcelId(first.parcel), await parcelId(second.parcel)]).toEqual(['one', 'two']);
  await first.ack();
  second.nack();
  await expect(collection.next()).resolves.toEqual({ done: true, value: undefined });
  const again = await collect(world.user.collectParcels([appId], options));
  expect(await Promise.all(again.map((item) => parcelId(item.parcel)))).toEqual(['two']);
});

test('a keep-alive collection yields parcels as they arrive, and ends when its signal aborts', async () => {
  const appId = world.app.certificate.calculateSubjectId();
  const controller = new AbortController();
  let wake: () => void = () => undefined;
  const waits: number[] = [];
  const collection = world.user.collectParcels([appId], {
    signal: controller.signal,
    keepAlive: true,
    recheckMs: 1234,
    waitForParcels: (signal, timeoutMs) => {
      waits.push(timeoutMs);
      return new Promise((resolve) => {
        wake = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  });
  const next = collection.next();
  await downstream(['late']);
  wake();
  const item = (await next).value!;
  expect(await parcelId(item.parcel)).toBe('late');
  await item.ack();
  const end = collection.next();
  controller.abort();
  await expect(end).resolves.toEqual({ done: true, value: undefined });
  expect(waits.every((ms) => ms === 1234)).toBe(true);
});

test('a relay collects a CCA for the relaying gateway first, then our cargo', async () => {
  await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id: 'tweet' }));
  const items = await collect(world.user.collectionForRelayingGateway());
  expect(items).toHaveLength(2);
  const [cca, cargo] = items as [{ cca: Buffer }, { cargo: Buffer }];
  expect((await CargoCollectionAuthorization.deserialize(cca.cca)).recipient.id).toBe(world.user.relayingGatewayId);
  expect((await Cargo.deserialize(cargo.cargo)).recipient.id).toBe(world.user.relayingGatewayId);
});
