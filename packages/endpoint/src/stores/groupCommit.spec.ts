import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { sqliteWriteCommitter } from './groupCommit';

let dir: string;
let db: Database.Database;
let commits: number;
/** The real database, with its transactions counted. */
let counted: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'write-groups-'));
  db = new Database(join(dir, 'db.sqlite'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))');
  commits = 0;
  counted = Object.assign(Object.create(db) as Database.Database, {
    transaction: (fn: (...args: never[]) => unknown) => ({
      immediate: (...args: never[]) => {
        commits += 1;
        return db.transaction(fn).immediate(...args);
      },
    }),
  });
  Object.defineProperty(counted, 'open', { get: () => db.open });
});

afterEach(() => {
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const insert = (k: string, v: number) => () => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, v).changes;
const rows = () => db.prepare('SELECT k, v FROM t ORDER BY k').all();

test('writes of one turn share one commit; each resolves with its result, after the commit', async () => {
  const groups = sqliteWriteCommitter(counted);
  let resolved = 0;
  const writes = ['a', 'b', 'c'].map((k, i) => groups.submitOne(insert(k, i)).then((r) => (resolved++, r)));
  await Promise.resolve();
  expect(resolved).toBe(0);
  expect(rows()).toEqual([]); // nothing written before the group commits
  expect(await Promise.all(writes)).toEqual([1, 1, 1]);
  expect(commits).toBe(1);
  expect(rows()).toEqual([
    { k: 'a', v: 0 },
    { k: 'b', v: 1 },
    { k: 'c', v: 2 },
  ]);

  // A later turn is a new group.
  await groups.submitOne(insert('d', 3));
  expect(commits).toBe(2);
});

test('a failing write fails alone: the others of its group are retried one by one and committed', async () => {
  const groups = sqliteWriteCommitter(counted);
  const results = await Promise.allSettled([
    groups.submitOne(insert('a', 1)),
    groups.submitOne(insert('b', -1)),
    groups.submitOne(insert('c', 2)),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/CHECK constraint failed/);
  expect(rows()).toEqual([
    { k: 'a', v: 1 },
    { k: 'c', v: 2 },
  ]);
});

test('flush commits what is pending at once (before a close); after the close, writes are refused', async () => {
  const groups = sqliteWriteCommitter(counted);
  const pending = groups.submitOne(insert('a', 1));
  await groups.flush();
  db.close();
  await expect(pending).resolves.toBe(1);
  const reopened = new Database(join(dir, 'db.sqlite'));
  expect(reopened.prepare('SELECT k, v FROM t').all()).toEqual([{ k: 'a', v: 1 }]);
  reopened.close();
  await expect(groups.submitOne(insert('b', 2))).rejects.toThrow('The endpoint database is closed');
});
