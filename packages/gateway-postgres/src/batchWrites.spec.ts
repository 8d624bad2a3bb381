import { Certificate } from '@twitter-relaynet/core';
import { type GatewayStores, type StoreWrite } from '@twitter-relaynet/gateway';
import { describeWithPostgres, seededRandom, useTestDatabase } from '@twitter-relaynet/test-support';
import pg from 'pg';

import { collect, HOUR, makeWorld, NOW, parcel } from '@twitter-relaynet/test-support/gateway';
import type { PostgresGatewayStores } from './stores';
import { openEmptyStores } from './testDatabase';

/** Statements sent to the server (by any connection) while `action` runs. */
async function countStatements(action: () => Promise<unknown>): Promise<number> {
  const spy = jest.spyOn(pg.Client.prototype, 'query');
  try {
    await action();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

/** What a cargo of `count` parcels writes: a put (guarded by the ledger) and a PCA per parcel. */
function cargoWrites(count: number): StoreWrite[] {
  return Array.from({ length: count }, (_, index): StoreWrite[] => [
    {
      kind: 'put parcel',
      parcel: parcel({ queue: 'internet', id: `p${index}`, serialized: Buffer.alloc(300, index) }),
      unlessRecorded: { namespace: 'delivered', id: `0sender/p${index}` },
    },
    {
      kind: 'put pca',
      pca: {
        peerId: '0peer',
        senderEndpointId: '0sender',
        recipientEndpointId: '0alice',
        parcelId: `p${index}`,
        expiryDate: new Date(NOW.getTime() + HOUR),
      },
    },
  ]).flat();
}

const QUEUES = ['q1', 'q2'];
const IDS = ['a', 'b', 'c'];

/** A random write on a few rows (queues and PCA peers named `${prefix}q…`), so that a batch often touches a row several times. */
function randomWrite(random: () => number, prefix: string): StoreWrite {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const key = { queue: prefix + pick(QUEUES), senderId: '0sender', id: pick(IDS) };
  const ledgerKey = { namespace: `${prefix}delivered`, id: `${key.queue}/${key.id}` };
  const date = new Date(NOW.getTime() + Math.floor(random() * 10) * 60_000);
  switch (Math.floor(random() * 7)) {
    case 0:
      return { kind: 'put parcel', parcel: parcel({ ...key, serialized: Buffer.from(`body ${random()}`) }) };
    case 1:
      return { kind: 'put parcel', parcel: parcel(key), unlessRecorded: ledgerKey };
    case 2:
      return { kind: 'delete parcel', key };
    case 3:
      return { kind: 'reschedule parcel', key, nextAttemptDate: date };
    case 4:
      return {
        kind: 'put pca',
        pca: {
          peerId: key.queue,
          senderEndpointId: '0sender',
          recipientEndpointId: '0alice',
          parcelId: key.id,
          expiryDate: date,
        },
      };
    case 5:
      return { kind: 'delete pca', peerId: key.queue, senderEndpointId: '0sender', parcelId: key.id };
    default:
      return { kind: 'record id', ...ledgerKey, expiryDate: new Date(NOW.getTime() + HOUR) };
  }
}

/** Everything observable in the rows that `randomWrite` touches with `prefix`. */
async function snapshot(stores: GatewayStores, prefix: string): Promise<unknown> {
  const queues = await Promise.all(
    QUEUES.map(async (queue) =>
      (await collect(stores.parcels.list(prefix + queue, { now: NOW }))).map((record) => ({
        id: record.id,
        body: record.serialized.toString(),
        nextAttempt: record.nextAttemptDate.getTime(),
        attempts: record.attempts,
      })),
    ),
  );
  const pcas = await Promise.all(QUEUES.map((peer) => collect(stores.pcas.list(prefix + peer, NOW))));
  const recorded = await Promise.all(
    QUEUES.flatMap((queue) => IDS.map((id) => stores.ledger.has(`${prefix}delivered`, `${prefix}${queue}/${id}`))),
  );
  return { queues, pcas: pcas.map((list) => list.map((pca) => [pca.parcelId, pca.expiryDate.getTime()])), recorded };
}

describeWithPostgres('PostgreSQL writes and lookups in few statements', () => {
  const database = useTestDatabase(pg, 'batch_writes');
  let stores: PostgresGatewayStores;

  beforeEach(async () => {
    stores = await openEmptyStores(database.current().url);
  });

  afterEach(async () => {
    await stores.close();
  });

  test("a cargo's 500 parcels and PCAs take a handful of statements, not one or two each", async () => {
    const writes = cargoWrites(500);
    let results: unknown[] = [];
    const statements = await countStatements(async () => (results = await stores.writeBatch(writes)));
    // BEGIN, the puts, their guard, the PCAs, the notification, COMMIT.
    expect(statements).toBeLessThanOrEqual(6);
    expect(results).toEqual(writes.map((write) => (write.kind === 'put parcel' ? 'stored' : undefined)));
    // In the order of the writes (each took the next seq).
    const queued = await collect(stores.parcels.list('internet', { now: NOW }));
    expect(queued.map((record) => record.id)).toEqual(Array.from({ length: 500 }, (_, index) => `p${index}`));
    expect(queued[7].serialized).toEqual(Buffer.alloc(300, 7));
    expect(await stores.pcas.count('0peer')).toBe(500);
  });

  test('batches that touch the same rows several times end as if applied one write at a time', async () => {
    // The same random writes twice, on rows of their own: as batches ("b"), and one per commit ("s").
    const batches = seededRandom(20261207);
    const singles = seededRandom(20261207);
    for (let round = 0; round < 40; round += 1) {
      const size = 1 + Math.floor(batches() * 12);
      expect(1 + Math.floor(singles() * 12)).toBe(size);
      const batch = Array.from({ length: size }, () => randomWrite(batches, 'b'));
      const expected = [];
      for (let index = 0; index < size; index += 1) {
        expected.push(...(await stores.writeBatch([randomWrite(singles, 's')])));
      }
      await expect(stores.writeBatch(batch)).resolves.toEqual(expected);
      expect(await snapshot(stores, 'b')).toEqual(await snapshot(stores, 's'));
    }
  });

  test('lookups asked for at once share a query, and each gets its own answer', async () => {
    const world = await makeWorld();
    const certificates: Certificate[] = [world.userNode.certificate, world.app.certificate];
    for (const certificate of certificates) await stores.registry.put(certificate);
    await stores.writeBatch([{ kind: 'record id', namespace: 'delivered', id: 'x', expiryDate: NOW }]);
    const asked = Array.from({ length: 200 }, (_, index) => index);

    let found: (Certificate | null)[] = [];
    let recorded: boolean[] = [];
    const statements = await countStatements(async () => {
      [found, recorded] = await Promise.all([
        Promise.all(
          asked.map((index) =>
            stores.registry.get(index % 3 === 2 ? '0unknown' : certificates[index % 3].calculateSubjectId()),
          ),
        ),
        Promise.all(asked.map((index) => stores.ledger.has('delivered', index % 2 === 0 ? 'x' : `y${index}`))),
      ]);
    });
    expect(statements).toBeLessThanOrEqual(4);
    expect(found.map((certificate) => certificate?.calculateSubjectId() ?? null)).toEqual(
      asked.map((index) => (index % 3 === 2 ? null : certificates[index % 3].calculateSubjectId())),
    );
    expect(recorded).toEqual(asked.map((index) => index % 2 === 0));
  });
});
