import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ParcelRefusedError } from './errors';
import { deliveryBackoffMs } from './RelayingGateway';
import { openGatewaySqliteStores } from './stores/sqlite';
import { type GatewayStores, INTERNET_QUEUE, peerQueue, type StoreWrite, type StoreWriteResult } from './stores/types';
import { waitFor } from '@twitter-relaynet/test-support';

import {
  collect,
  makeParcelToAdapter,
  makeParcelToApp,
  makeWorld,
  type World,
} from '@twitter-relaynet/test-support/gateway';

/**
 * The relaying gateway's traffic with the Internet in batches: a delivery round is claimed in one
 * commit and its outcome recorded in one per kind; parcels from public endpoints are group-committed.
 * Against real SQLite stores.
 */

interface Spy {
  readonly batches: StoreWrite[][];
  /** Commits wait for this until `open()`. */
  open(): void;
}

/** Route the relaying gateway's writeBatch through a spy (same stores underneath). */
function spyOnBatches(world: World): Spy {
  const gateway = world.relaying as unknown as { stores: GatewayStores };
  const inner = gateway.stores;
  let open = () => undefined as void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const spy: Spy = { batches: [], open: () => open() };
  gateway.stores = {
    ...inner,
    parcels: inner.parcels,
    writeBatch: async (writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> => {
      spy.batches.push([...writes]);
      await gate;
      return inner.writeBatch(writes);
    },
  };
  return spy;
}

let dir: string;
let world: World;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-internet-batches-'));
  world = await makeWorld({
    userStores: openGatewaySqliteStores(join(dir, 'user.sqlite')),
    relayingStores: openGatewaySqliteStores(join(dir, 'relaying.sqlite')),
  });
});
afterEach(async () => {
  await world.userStores.close();
  await world.relayingStores.close();
  rmSync(dir, { recursive: true, force: true });
});

async function relayUpstream(): Promise<void> {
  for (const cargo of await collect(world.user.generateCargoForRelayingGateway())) {
    await world.relaying.receiveCargo(cargo.serialized);
  }
}

test('a delivery round: claimed at once, acknowledged ones deleted in one commit, failed ones rescheduled in one', async () => {
  for (const id of ['a', 'b', 'c', 'd']) {
    await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id }));
  }
  await relayUpstream();

  const round = await world.relaying.nextDeliverables(3);
  expect(round.map((parcel) => [parcel.id, parcel.attempts])).toEqual([
    ['a', 1],
    ['b', 1],
    ['c', 1],
  ]);
  expect((await world.relaying.nextDeliverables(3)).map((parcel) => parcel.id)).toEqual(['d']);
  await expect(world.relaying.nextDeliverables(3)).resolves.toEqual([]); // all leased

  const spy = spyOnBatches(world);
  spy.open();
  await expect(world.relaying.markDeliveredBatch([round[0], round[2]])).resolves.toEqual([true, true]);
  await expect(world.relaying.markFailedBatch([round[1]])).resolves.toEqual([true]);
  expect(spy.batches.map((batch) => batch.map((write) => write.kind))).toEqual([
    ['record id', 'delete parcel', 'record id', 'delete parcel'],
    ['reschedule parcel'],
  ]);
  expect(await world.relayingStores.parcels.count(INTERNET_QUEUE)).toBe(2);
  // Delivered twice over (say the round is replayed): nothing left to delete, nothing breaks.
  await expect(world.relaying.markDeliveredBatch([round[0]])).resolves.toEqual([false]);

  // "b" is retried after its backoff, with its attempts counted.
  world.clock.advance(deliveryBackoffMs(1) - 1);
  await expect(world.relaying.nextDeliverables(3)).resolves.toEqual([]);
  world.clock.advance(1);
  expect((await world.relaying.nextDeliverables(3)).map((parcel) => [parcel.id, parcel.attempts])).toEqual([['b', 2]]);

  // The user gateway did not get the PCAs (lost cargo) and sends "a" and "c" again: acknowledged, not queued again.
  await relayUpstream();
  expect(world.relaying.counters.duplicatesAcknowledged).toBe(2);
  expect(await world.relayingStores.parcels.count(INTERNET_QUEUE)).toBe(2);
});

test('parcels from the Internet that arrive during a commit are stored together in the next one, each acknowledged after it', async () => {
  const parcels = await Promise.all(['t1', 't2', 't3', 't4'].map((id) => makeParcelToApp(world, { id })));
  const spy = spyOnBatches(world);
  const intake = (world.relaying as unknown as { groupCommit: unknown }).groupCommit as {
    pending: unknown[];
  };
  const acknowledged: string[] = [];
  const receive = (serialized: Buffer, id: string) =>
    world.relaying.receiveParcelFromInternet(serialized).then((acceptance) => {
      acknowledged.push(id);
      return acceptance;
    });

  // The first commit is held; the others arrive meanwhile (with a refusal among them).
  const first = receive(parcels[0], 't1');
  await waitFor('the first batch', () => spy.batches.length === 1, 10_000, 5);
  const others = [receive(parcels[1], 't2'), receive(parcels[2], 't3'), receive(parcels[3], 't4')];
  const refused = world.relaying.receiveParcelFromInternet(await makeParcelToAdapter(world, { id: 'wrong-way' }));
  await expect(refused).rejects.toThrow(ParcelRefusedError);
  await waitFor('all four parcels', () => spy.batches.flat().length + intake.pending.length === 4, 10_000, 5);
  expect(acknowledged).toEqual([]);
  expect(await world.relayingStores.parcels.count()).toBe(0);

  spy.open();
  const queue = peerQueue(world.user.id);
  await expect(first).resolves.toMatchObject({ outcome: 'stored', key: { queue, id: 't1' } });
  const outcomes = await Promise.all(others);
  expect(outcomes.map((acceptance) => [acceptance.key.id, acceptance.outcome])).toEqual([
    ['t2', 'stored'],
    ['t3', 'stored'],
    ['t4', 'stored'],
  ]);
  expect(spy.batches.map((batch) => batch.length)).toEqual([1, 3]);
  expect(await world.relayingStores.parcels.count(queue)).toBe(4);
  expect(world.relaying.counters.parcelsStored).toBe(4);

  // The same parcel again replaces its queued copy, as before.
  await expect(world.relaying.receiveParcelFromInternet(parcels[0])).resolves.toMatchObject({ outcome: 'replaced' });
});
