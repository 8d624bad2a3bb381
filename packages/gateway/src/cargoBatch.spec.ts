import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createMemoryStores } from './stores/memory';
import { openGatewaySqliteStores } from './stores/sqlite';
import { type GatewayStores, INTERNET_QUEUE, type StoreWrite, type StoreWriteResult } from './stores/types';
import { collect, makeParcelToAdapter, makeWorld } from '@twitter-relaynet/test-support/gateway';

/**
 * A cargo's parcels and PCAs are written by one `writeBatch` (one commit), and the cargo is only
 * acknowledged (receiveCargo resolves) once that commit is done.
 */

interface SpyStores extends GatewayStores {
  readonly batches: StoreWrite[][];
  singleWrites: number;
  /** Resolve to let the pending batch commit. */
  release(): void;
}

function spyStores(inner: GatewayStores): SpyStores {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const spy: SpyStores = {
    batches: [],
    singleWrites: 0,
    release: () => release(),
    parcels: Object.assign(Object.create(inner.parcels), {
      put: (...args: Parameters<GatewayStores['parcels']['put']>) => {
        spy.singleWrites += 1;
        return inner.parcels.put(...args);
      },
      delete: (...args: Parameters<GatewayStores['parcels']['delete']>) => {
        spy.singleWrites += 1;
        return inner.parcels.delete(...args);
      },
    }),
    ledger: inner.ledger,
    registration: inner.registration,
    courierAnswers: inner.courierAnswers,
    pcas: Object.assign(Object.create(inner.pcas), {
      put: (...args: Parameters<GatewayStores['pcas']['put']>) => {
        spy.singleWrites += 1;
        return inner.pcas.put(...args);
      },
    }),
    registry: inner.registry,
    writeBatch: async (writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> => {
      spy.batches.push([...writes]);
      await gate;
      return inner.writeBatch(writes);
    },
    close: () => inner.close(),
  };
  return spy;
}

async function craftUpstreamCargo(): Promise<{ world: Awaited<ReturnType<typeof makeWorld>>; cargo: Buffer }> {
  const world = await makeWorld();
  for (const id of ['a', 'b', 'c'])
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id }));
  const [cargo] = await collect(world.user.generateCargoForRelayingGateway());
  return { world, cargo: cargo.serialized };
}

test('a cargo is stored by one batch, and acknowledged only after it committed', async () => {
  const { world, cargo } = await craftUpstreamCargo();
  // Swap the relaying gateway's stores for spies over the same (memory) stores.
  const spy = spyStores((world.relaying as unknown as { stores: GatewayStores }).stores);
  (world.relaying as unknown as { stores: GatewayStores }).stores = spy;

  let acknowledged = false;
  const receipt = world.relaying.receiveCargo(cargo).then((r) => {
    acknowledged = true;
    return r;
  });
  // Wait (with a deadline) for the batch to be submitted, then check nothing was acked or stored.
  const deadline = Date.now() + 10_000;
  while (spy.batches.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(spy.batches).toHaveLength(1);
  expect(spy.batches[0].map((w) => w.kind).sort()).toEqual([
    'put parcel',
    'put parcel',
    'put parcel',
    'put pca',
    'put pca',
    'put pca',
  ]);
  await new Promise((r) => setImmediate(r));
  expect(acknowledged).toBe(false);
  expect(await spy.parcels.count(INTERNET_QUEUE)).toBe(0);

  spy.release();
  await expect(receipt).resolves.toMatchObject({ parcelsStored: 3, itemsSkipped: 0 });
  expect(spy.singleWrites).toBe(0);
  expect(await spy.parcels.count(INTERNET_QUEUE)).toBe(3);
  expect(await spy.pcas.count(world.user.id)).toBe(3);
});

test('a batch that fails stores nothing of the cargo, and the cargo is not acknowledged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-batch-'));
  const stores = openGatewaySqliteStores(join(dir, 'relaying.sqlite'));
  try {
    const world = await makeWorld({ relayingStores: stores, userStores: createMemoryStores() });
    for (const id of ['a', 'b', 'c'])
      await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id }));
    const [cargo] = await collect(world.user.generateCargoForRelayingGateway());
    // The third write of the batch fails (as a full disk would) after two were applied.
    const original = stores.parcels.putNow.bind(stores.parcels);
    let calls = 0;
    stores.parcels.putNow = (parcel) => {
      calls += 1;
      if (calls === 3) throw new Error('disk full');
      return original(parcel);
    };
    await expect(world.relaying.receiveCargo(cargo.serialized)).rejects.toThrow('disk full');
    expect(await stores.parcels.count()).toBe(0);
    expect(await stores.pcas.count()).toBe(0);

    // Delivered again (the relayer kept it): all stored, once.
    stores.parcels.putNow = original;
    await expect(world.relaying.receiveCargo(cargo.serialized)).resolves.toMatchObject({ parcelsStored: 3 });
    await expect(world.relaying.receiveCargo(cargo.serialized)).resolves.toMatchObject({ parcelsStored: 3 });
    expect(await stores.parcels.count(INTERNET_QUEUE)).toBe(3);
    expect(await stores.pcas.count()).toBe(3);
  } finally {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
