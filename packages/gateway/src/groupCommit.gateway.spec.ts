/**
 * Parcels and acknowledgements that reach a gateway one at a time but at once (many PoWebSocket
 * messages, a window of collection acks) share commits: fewer transactions than writes, and each call
 * resolves only after the commit holding its writes.
 */
import type { GatewayStores, StoreWrite, StoreWriteResult } from './stores/types';
import { LOCAL_QUEUE, peerQueue } from './stores/types';
import {
  collect,
  makeParcelToAdapter,
  makeParcelToApp,
  makeWorld,
  type World,
} from '@twitter-relaynet/test-support/gateway';

const N = 20;

interface GatedBatches {
  readonly sizes: number[];
  /** Let the batches through (until then each one waits). */
  open(): void;
}

/** Count the gateway's writeBatch calls, holding each until `open()`. */
function gateBatches(gateway: World['user'] | World['relaying']): GatedBatches {
  const holder = gateway as unknown as { stores: GatewayStores };
  const inner = holder.stores;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const sizes: number[] = [];
  holder.stores = Object.assign(Object.create(inner) as GatewayStores, {
    writeBatch: async (writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> => {
      sizes.push(writes.length);
      await gate;
      return inner.writeBatch(writes);
    },
  });
  return { sizes, open: () => open() };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

test('parcels from endpoints arriving together are stored in fewer commits, each acknowledged after its own', async () => {
  const world = await makeWorld();
  const parcels = await Promise.all(Array.from({ length: N }, (_, i) => makeParcelToAdapter(world, { id: `p${i}` })));
  const gated = gateBatches(world.user);
  let resolved = 0;
  const receipts = parcels.map((parcel) => world.user.receiveParcelFromEndpoint(parcel).then((r) => (resolved++, r)));

  await settle();
  expect(gated.sizes.length).toBeGreaterThan(0);
  expect(resolved).toBe(0); // nothing acknowledged while its commit is pending
  gated.open();
  const outcomes = await Promise.all(receipts);
  expect(outcomes.map((o) => o.outcome)).toEqual(Array(N).fill('stored'));
  expect(gated.sizes.reduce((a, b) => a + b, 0)).toBe(N);
  expect(gated.sizes.length).toBeLessThan(N);
  expect(await world.userStores.parcels.count(peerQueue(world.relaying.id))).toBe(N);
});

test('collection acknowledgements arriving together share commits; a copy delivered again is only acknowledged', async () => {
  const world = await makeWorld();
  const parcels = await Promise.all(Array.from({ length: N }, (_, i) => makeParcelToApp(world, { id: `t${i}` })));
  for (const parcel of parcels) await world.relaying.receiveParcelFromInternet(parcel);
  const collection = await world.relaying.collectCargo(await world.user.generateCca());
  for (const cargo of await collect(collection.cargoes)) await world.user.receiveCargo(cargo.serialized);
  const queued = await collect(world.user.listParcelsForEndpoint(world.app.certificate.calculateSubjectId()));
  expect(queued).toHaveLength(N);

  const gated = gateBatches(world.user);
  const appId = world.app.certificate.calculateSubjectId();
  const acks = queued.map((record) => world.user.markParcelCollected(appId, record.senderId, record.id));
  await settle();
  expect(await world.userStores.parcels.count(LOCAL_QUEUE)).toBe(N); // nothing deleted before the commit
  gated.open();
  expect(await Promise.all(acks)).toEqual(Array(N).fill(true));
  expect(gated.sizes.reduce((a, b) => a + b, 0)).toBe(2 * N); // a ledger entry and a deletion each
  expect(gated.sizes.length).toBeLessThan(N);
  expect(await world.userStores.parcels.count(LOCAL_QUEUE)).toBe(0);

  // The relaying gateway still has them (the user gateway's PCAs have not reached it): the next
  // collection brings them all again, and none is delivered twice.
  const again = await world.relaying.collectCargo(await world.user.generateCca());
  const receipts = [];
  for (const cargo of await collect(again.cargoes)) receipts.push(await world.user.receiveCargo(cargo.serialized));
  expect(receipts.reduce((sum, r) => sum + r.duplicatesAcknowledged, 0)).toBe(N);
  expect(receipts.reduce((sum, r) => sum + r.parcelsStored, 0)).toBe(0);
  expect(await world.userStores.parcels.count(LOCAL_QUEUE)).toBe(0);
});
