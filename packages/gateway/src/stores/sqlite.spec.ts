import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { openGatewaySqliteStores } from './sqlite';
import { INTERNET_QUEUE, peerQueue } from './types';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-sqlite-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const modeOf = (path: string) => (lstatSync(path).mode & 0o777).toString(8);

// Regression (packages/system-tests/test/attacks.spec.ts): the -wal and -shm files were 0644.
test('the database and its -wal and -shm files are owner-only, whatever the umask', async () => {
  const previous = process.umask(0o022);
  try {
    const path = join(dir, 'data', 'gateway.sqlite');
    const stores = openGatewaySqliteStores(path);
    try {
      expect(modeOf(join(dir, 'data'))).toBe('700');
      expect([modeOf(path), modeOf(`${path}-wal`), modeOf(`${path}-shm`)]).toEqual(['600', '600', '600']);
      // Large pages for large blobs (a new database only).
      expect(stores.db.pragma('page_size', { simple: true })).toBe(65536);
    } finally {
      await stores.close();
    }
  } finally {
    process.umask(previous);
  }
});

/** The schema every database had before version 2 (the serialized parcel in the `parcels` row). */
const SCHEMA_1 = `
CREATE TABLE parcels (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  recipient_id TEXT NOT NULL,
  recipient_address TEXT,
  expiry INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  serialized BLOB NOT NULL,
  UNIQUE (queue, sender_id, message_id)
);
CREATE INDEX parcels_by_queue ON parcels (queue, seq);
CREATE INDEX parcels_by_recipient ON parcels (queue, recipient_id, seq);
CREATE INDEX parcels_by_due_date ON parcels (queue, next_attempt, seq);
CREATE INDEX parcels_by_expiry ON parcels (expiry);
CREATE TABLE ledger (namespace TEXT NOT NULL, id TEXT NOT NULL, expiry INTEGER NOT NULL, PRIMARY KEY (namespace, id)) WITHOUT ROWID;
CREATE INDEX ledger_by_expiry ON ledger (expiry);
CREATE TABLE pcas (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  peer_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  parcel_id TEXT NOT NULL,
  recipient_id TEXT NOT NULL,
  expiry INTEGER NOT NULL,
  UNIQUE (peer_id, sender_id, parcel_id)
);
CREATE INDEX pcas_by_peer ON pcas (peer_id, seq);
CREATE INDEX pcas_by_expiry ON pcas (expiry);
CREATE TABLE certificates (subject_id TEXT PRIMARY KEY, der BLOB NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 1;
`;

describe('a database of schema 1 (parcel bytes in the parcels table)', () => {
  const now = Date.now();
  const hour = 3_600_000;
  const big = Buffer.alloc(2 * 1024 * 1024, 3);

  function createSchema1Database(path: string): void {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA_1);
    const insert = db.prepare(
      `INSERT INTO parcels (queue, sender_id, message_id, recipient_id, recipient_address, expiry, next_attempt, attempts, serialized)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Queued for the Internet, one of them leased by the previous run; one for a peer; one expired.
    insert.run(INTERNET_QUEUE, '0s', 'out-1', '0pub', 'x.example.com', now + hour, 0, 0, Buffer.from('out-1 bytes'));
    insert.run(INTERNET_QUEUE, '0s', 'out-2', '0pub', 'x.example.com', now + hour, now + hour, 3, big);
    insert.run(peerQueue('0gw'), '0s', 'in-1', '0alice', null, now + hour, 0, 0, Buffer.from('in-1 bytes'));
    insert.run(peerQueue('0gw'), '0s', 'old', '0alice', null, now - 1, 0, 0, Buffer.from('old bytes'));
    db.prepare('INSERT INTO ledger (namespace, id, expiry) VALUES (?, ?, ?)').run('cca', 'used', now + hour);
    db.close();
  }

  test('opens with the new code: every parcel is still there, intact and deliverable', async () => {
    const path = join(dir, 'gateway.sqlite');
    createSchema1Database(path);

    const stores = openGatewaySqliteStores(path);
    try {
      expect(stores.db.pragma('user_version', { simple: true })).toBe(4);
      const columns = (
        stores.db.prepare("SELECT name FROM pragma_table_info('parcels')").all() as { name: string }[]
      ).map((column) => column.name);
      expect(columns).not.toContain('serialized');
      expect(await stores.parcels.count()).toBe(4);
      await expect(stores.ledger.has('cca', 'used')).resolves.toBe(true);

      const inbound = await stores.parcels.get({ queue: peerQueue('0gw'), senderId: '0s', id: 'in-1' });
      expect(inbound).toMatchObject({ recipientId: '0alice', attempts: 0 });
      expect(inbound!.serialized.toString()).toBe('in-1 bytes');

      // The one leased by the previous run comes back once released, with its attempts and bytes.
      const nowDate = new Date(now);
      const lease = new Date(now + 60_000);
      const first = await stores.parcels.claimDue(INTERNET_QUEUE, nowDate, lease, 10);
      expect(first.map((p) => [p.id, p.serialized.toString(), p.attempts])).toEqual([['out-1', 'out-1 bytes', 1]]);
      await expect(stores.parcels.releaseLeases(INTERNET_QUEUE, nowDate)).resolves.toBe(2);
      const second = await stores.parcels.claimDue(INTERNET_QUEUE, nowDate, lease, 10);
      expect(second.map((p) => [p.id, p.attempts])).toEqual([
        ['out-1', 2],
        ['out-2', 4],
      ]);
      expect(second[1].serialized.equals(big)).toBe(true);

      // Deleting and purging take the bytes too; new parcels get new sequence numbers.
      await stores.parcels.delete({ queue: INTERNET_QUEUE, senderId: '0s', id: 'out-2' });
      await expect(stores.parcels.purgeExpired(nowDate)).resolves.toBe(1);
      await stores.parcels.put({
        queue: peerQueue('0gw'),
        senderId: '0s',
        id: 'in-2',
        recipientId: '0alice',
        recipientInternetAddress: null,
        expiryDate: new Date(now + hour),
        serialized: Buffer.from('in-2 bytes'),
      });
      const listed = [];
      for await (const record of stores.parcels.list(peerQueue('0gw'), { now: nowDate })) {
        listed.push([record.id, record.serialized.toString()]);
      }
      expect(listed).toEqual([
        ['in-1', 'in-1 bytes'],
        ['in-2', 'in-2 bytes'],
      ]);
      expect(stores.db.prepare('SELECT COUNT(*) AS n FROM parcel_bodies').get()).toEqual({ n: 3 });
    } finally {
      await stores.close();
    }

    // Opening again does not migrate twice.
    const reopened = openGatewaySqliteStores(path);
    try {
      expect(await reopened.parcels.count()).toBe(3);
    } finally {
      await reopened.close();
    }
  });

  test('a database from a newer version is refused, untouched', async () => {
    const path = join(dir, 'gateway.sqlite');
    const db = new Database(path);
    db.pragma('user_version = 5');
    db.close();
    expect(() => openGatewaySqliteStores(path)).toThrow(/schema version 5/);
  });
});
