import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openGatewaySqliteStores, type SqliteGatewayStores } from './sqlite';
import { LOCAL_QUEUE, type NewParcelRecord, type StoreWrite, type StoreWriteResult } from './types';
import { GroupCommitter } from '@twitter-relaynet/core';
import { waitFor } from '@twitter-relaynet/test-support';

const HOUR = 3_600_000;

function put(id: string, serialized = `${id} bytes`): StoreWrite {
  const parcel: NewParcelRecord = {
    queue: LOCAL_QUEUE,
    senderId: '0sender',
    id,
    recipientId: '0alice',
    recipientInternetAddress: null,
    expiryDate: new Date(Date.now() + HOUR),
    serialized: Buffer.from(serialized),
  };
  return { kind: 'put parcel', parcel };
}

let dir: string;
let stores: SqliteGatewayStores;
/** Every batch given to the stores, and a gate that holds the next commits until opened. */
let batches: StoreWrite[][];
let gate: { promise: Promise<void>; open: () => void };
let committer: GroupCommitter<StoreWrite, StoreWriteResult>;

function newGate() {
  let open = () => undefined as void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-group-commit-'));
  stores = openGatewaySqliteStores(join(dir, 'gateway.sqlite'));
  batches = [];
  gate = newGate();
  committer = new GroupCommitter(async (writes): Promise<StoreWriteResult[]> => {
    batches.push([...writes]);
    await gate.promise;
    return stores.writeBatch(writes);
  }, 4);
});

afterEach(async () => {
  await stores.close();
  rmSync(dir, { recursive: true, force: true });
});

test('writes submitted together are committed together, each resolving only after that commit', async () => {
  const resolved: string[] = [];
  const submissions = ['a', 'b', 'c'].map((id) =>
    committer.submit([put(id)]).then((results) => {
      resolved.push(id);
      return results;
    }),
  );
  await waitFor('the first batch', () => batches.length === 1, 10_000, 5);
  expect(batches[0]).toHaveLength(3);
  // The commit is held: nobody is told yet, and nothing is stored.
  await new Promise((resolve) => setImmediate(resolve));
  expect(resolved).toEqual([]);
  expect(await stores.parcels.count()).toBe(0);

  gate.open();
  await expect(Promise.all(submissions)).resolves.toEqual([['stored'], ['stored'], ['stored']]);
  expect(await stores.parcels.count()).toBe(3);
  expect(batches).toHaveLength(1);
});

test('what arrives while a commit is under way goes, together, into the next one', async () => {
  const first = committer.submit([put('a')]);
  await waitFor('the first batch', () => batches.length === 1, 10_000, 5);
  const during = [committer.submit([put('b')]), committer.submit([put('c'), put('b', 'b again')])];
  await new Promise((resolve) => setImmediate(resolve));
  expect(batches).toHaveLength(1); // held until the first commit is done

  gate.open();
  await expect(first).resolves.toEqual(['stored']);
  // Each submission gets its own results, in order: "b again" replaced "b" in the same commit.
  await expect(Promise.all(during)).resolves.toEqual([['stored'], ['stored', 'replaced']]);
  expect(batches.map((batch) => batch.length)).toEqual([1, 3]);
  const b = await stores.parcels.get({ queue: LOCAL_QUEUE, senderId: '0sender', id: 'b' });
  expect(b!.serialized.toString()).toBe('b again');
});

test('a group stops at its size limit; the rest follows in the next commit', async () => {
  gate.open();
  const submissions = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => committer.submit([put(id)]));
  await Promise.all(submissions);
  expect(batches.map((batch) => batch.length)).toEqual([4, 2]);
  expect(await stores.parcels.count()).toBe(6);
});

test('a write that fails fails its own submission only', async () => {
  gate.open();
  const original = stores.parcels.putNow.bind(stores.parcels);
  stores.parcels.putNow = (record) => {
    if (record.id === 'bad') throw new Error('disk full');
    return original(record);
  };
  const good = committer.submit([put('good')]);
  const bad = committer.submit([put('bad')]);
  const other = committer.submit([put('other')]);
  await expect(bad).rejects.toThrow('disk full');
  await expect(good).resolves.toEqual(['stored']);
  await expect(other).resolves.toEqual(['stored']);
  // Tried as one group first (rolled back whole), then one by one.
  expect(batches.map((batch) => batch.length)).toEqual([3, 1, 1, 1]);
  expect(await stores.parcels.count()).toBe(2);
  await expect(committer.submit([put('after')])).resolves.toEqual(['stored']);
});
