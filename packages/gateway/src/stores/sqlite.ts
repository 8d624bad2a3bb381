import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import Database from 'better-sqlite3';
import { Certificate, openSqliteDatabase } from '@twitter-relaynet/core';

import type {
  CertificateRegistry,
  CourierAnswerStore,
  GatewayStores,
  IdLedger,
  NewParcelRecord,
  ParcelKey,
  ParcelListOptions,
  ParcelRecord,
  ParcelStore,
  PcaQueue,
  PendingPca,
  QueueName,
  RegistrationRecord,
  RegistrationStore,
  StoreWrite,
  StoreWriteResult,
} from './types';

/**
 * The durable stores: one SQLite database (better-sqlite3) in WAL mode with synchronous=FULL, so
 * a transaction is on disk (fsync'd) when the call that made it returns. better-sqlite3 is
 * synchronous: each method does its work and then resolves.
 *
 * Every query a message triggers uses an index, so the cost per message does not grow with the
 * length of the queues.
 */

/**
 * 1: the first schema. 2: the serialized parcel moved from `parcels` to `parcel_bodies`, so that
 * claiming and rescheduling a parcel rewrite a small row instead of the whole parcel (SQLite rewrites
 * a row's every byte, overflow pages included, on any update of it). 3: `registration` (a user
 * gateway's, kept with its queues so that registering and moving its queue are one commit); the table
 * is new, so SCHEMA creates it. 4: `courier_answers` (a relaying gateway's answers to courier registration
 * requests, formerly files in its data directory), new likewise.
 */
const SCHEMA_VERSION = 4;
const DEFAULT_PAGE_SIZE = 100;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS parcels (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  recipient_id TEXT NOT NULL,
  recipient_address TEXT,
  expiry INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  UNIQUE (queue, sender_id, message_id)
);
-- Written once with its parcel, never updated; deleted with it (by the trigger, whatever deletes it).
CREATE TABLE IF NOT EXISTS parcel_bodies (
  seq INTEGER PRIMARY KEY,
  serialized BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS parcel_bodies_deleted_with_parcels AFTER DELETE ON parcels BEGIN
  DELETE FROM parcel_bodies WHERE seq = old.seq;
END;
CREATE INDEX IF NOT EXISTS parcels_by_queue ON parcels (queue, seq);
CREATE INDEX IF NOT EXISTS parcels_by_recipient ON parcels (queue, recipient_id, seq);
CREATE INDEX IF NOT EXISTS parcels_by_due_date ON parcels (queue, next_attempt, seq);
CREATE INDEX IF NOT EXISTS parcels_by_expiry ON parcels (expiry);

CREATE TABLE IF NOT EXISTS ledger (
  namespace TEXT NOT NULL,
  id TEXT NOT NULL,
  expiry INTEGER NOT NULL,
  PRIMARY KEY (namespace, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_by_expiry ON ledger (expiry);

CREATE TABLE IF NOT EXISTS pcas (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  peer_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  parcel_id TEXT NOT NULL,
  recipient_id TEXT NOT NULL,
  expiry INTEGER NOT NULL,
  UNIQUE (peer_id, sender_id, parcel_id)
);
CREATE INDEX IF NOT EXISTS pcas_by_peer ON pcas (peer_id, seq);
CREATE INDEX IF NOT EXISTS pcas_by_expiry ON pcas (expiry);

CREATE TABLE IF NOT EXISTS certificates (
  subject_id TEXT PRIMARY KEY,
  der BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS registration (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  relaying_gateway_der BLOB NOT NULL,
  user_gateway_der BLOB
);

CREATE TABLE IF NOT EXISTS courier_answers (
  request_digest TEXT PRIMARY KEY,
  response BLOB NOT NULL,
  expiry INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS courier_answers_by_expiry ON courier_answers (expiry);
`;

/**
 * Schema 1 → 2: move every serialized parcel to `parcel_bodies` (same seq), then drop the column. Run
 * in the transaction that opens the database, so an interruption leaves schema 1 intact. It copies
 * the bodies once, so it needs free disk space for them until the freed pages are reused.
 */
const MIGRATE_1_TO_2 = `
CREATE TABLE parcel_bodies (
  seq INTEGER PRIMARY KEY,
  serialized BLOB NOT NULL
);
INSERT INTO parcel_bodies (seq, serialized) SELECT seq, serialized FROM parcels;
ALTER TABLE parcels DROP COLUMN serialized;
`;

interface ParcelRow {
  seq: number;
  queue: string;
  sender_id: string;
  message_id: string;
  recipient_id: string;
  recipient_address: string | null;
  expiry: number;
  next_attempt: number;
  attempts: number;
  serialized?: Buffer;
}

const PARCEL_METADATA =
  'seq, queue, sender_id, message_id, recipient_id, recipient_address, expiry, next_attempt, attempts';

function rowToParcel(row: ParcelRow, serialized: Buffer): ParcelRecord {
  return {
    queue: row.queue,
    senderId: row.sender_id,
    id: row.message_id,
    recipientId: row.recipient_id,
    recipientInternetAddress: row.recipient_address,
    expiryDate: new Date(row.expiry),
    nextAttemptDate: new Date(row.next_attempt),
    attempts: row.attempts,
    serialized,
  };
}

/** Open (creating if need be) the database at `path` and return the stores in it. */
export function openGatewaySqliteStores(path: string): SqliteGatewayStores {
  // Parcels are encrypted end to end, but their metadata is nobody else's business: owner-only folder and files.
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = openSqliteDatabase(path, {
    connect: (file) => new Database(file),
    schemaVersion: SCHEMA_VERSION,
    migrate(connection, version) {
      if (version === 1) connection.exec(MIGRATE_1_TO_2);
      connection.exec(SCHEMA);
    },
    // Parcels and cargo items are up to ~9 MiB: 64 KiB pages write them about twice as fast as the
    // default 4 KiB (measured: 8 x 1 MiB blobs per commit).
    pageSize: 65536,
  });
  return new SqliteGatewayStores(db);
}

export class SqliteGatewayStores implements GatewayStores {
  readonly parcels: SqliteParcelStore;
  readonly ledger: SqliteIdLedger;
  readonly pcas: SqlitePcaQueue;
  readonly registry: SqliteCertificateRegistry;
  readonly registration: SqliteRegistrationStore;
  readonly courierAnswers: SqliteCourierAnswerStore;

  constructor(readonly db: Database.Database) {
    this.parcels = new SqliteParcelStore(db);
    this.ledger = new SqliteIdLedger(db);
    this.pcas = new SqlitePcaQueue(db);
    this.registry = new SqliteCertificateRegistry(db);
    this.registration = new SqliteRegistrationStore(db, this.parcels);
    this.courierAnswers = new SqliteCourierAnswerStore(db);
    // The stores' own transactions nest inside this one as savepoints: a single commit at the end.
    this.batchTransaction = db.transaction((writes: readonly StoreWrite[]): StoreWriteResult[] =>
      writes.map((write) => {
        switch (write.kind) {
          case 'put parcel':
            // Transactions are serial here: no other writer can record the id between this check and the put.
            if (write.unlessRecorded && this.ledger.hasNow(write.unlessRecorded.namespace, write.unlessRecorded.id)) {
              return 'already recorded';
            }
            return this.parcels.putNow(write.parcel);
          case 'delete parcel':
            return this.parcels.deleteNow(write.key);
          case 'reschedule parcel':
            return this.parcels.rescheduleNow(write.key, write.nextAttemptDate);
          case 'put pca':
            this.pcas.putNow(write.pca);
            return undefined;
          case 'delete pca':
            return this.pcas.deleteNow(write.peerId, write.senderEndpointId, write.parcelId);
          case 'record id':
            return this.ledger.recordNow(write.namespace, write.id, write.expiryDate);
        }
      }),
    );
  }

  private readonly batchTransaction;

  async writeBatch(writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> {
    return this.batchTransaction.immediate(writes);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

export class SqliteParcelStore implements ParcelStore {
  private readonly deleteStatement;
  private readonly insertStatement;
  private readonly insertBodyStatement;
  private readonly getStatement;
  private readonly blobStatement;
  private readonly pageStatement;
  private readonly recipientPageStatement;
  private readonly dueStatement;
  private readonly claimStatement;
  private readonly rescheduleStatement;
  private readonly releaseStatement;
  private readonly purgeStatement;
  private readonly putRow;
  private readonly putTransaction;
  private readonly claimTransaction;
  private readonly moveTransaction;

  constructor(private readonly db: Database.Database) {
    this.deleteStatement = db.prepare('DELETE FROM parcels WHERE queue = ? AND sender_id = ? AND message_id = ?');
    this.insertStatement = db.prepare(
      `INSERT INTO parcels (queue, sender_id, message_id, recipient_id, recipient_address, expiry)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.insertBodyStatement = db.prepare('INSERT INTO parcel_bodies (seq, serialized) VALUES (?, ?)');
    this.getStatement = db.prepare(
      `SELECT ${PARCEL_METADATA}, (SELECT serialized FROM parcel_bodies WHERE parcel_bodies.seq = parcels.seq) AS serialized
       FROM parcels WHERE queue = ? AND sender_id = ? AND message_id = ?`,
    );
    this.blobStatement = db.prepare('SELECT serialized FROM parcel_bodies WHERE seq = ?');
    this.pageStatement = db.prepare(
      `SELECT ${PARCEL_METADATA} FROM parcels WHERE queue = ? AND seq > ? AND expiry > ? ORDER BY seq LIMIT ?`,
    );
    this.recipientPageStatement = db.prepare(
      `SELECT ${PARCEL_METADATA} FROM parcels
       WHERE queue = ? AND recipient_id = ? AND seq > ? AND expiry > ? ORDER BY seq LIMIT ?`,
    );
    this.dueStatement = db.prepare(
      `SELECT ${PARCEL_METADATA} FROM parcels
       WHERE queue = ? AND next_attempt <= ? AND expiry > ? ORDER BY next_attempt, seq LIMIT ?`,
    );
    this.claimStatement = db.prepare('UPDATE parcels SET next_attempt = ?, attempts = attempts + 1 WHERE seq = ?');
    this.rescheduleStatement = db.prepare(
      'UPDATE parcels SET next_attempt = ? WHERE queue = ? AND sender_id = ? AND message_id = ?',
    );
    this.releaseStatement = db.prepare('UPDATE parcels SET next_attempt = ? WHERE queue = ? AND next_attempt > ?');
    this.purgeStatement = db.prepare('DELETE FROM parcels WHERE expiry <= ?');
    // Moved rows keep their seq, so their bodies stay where they are and arrival order holds.
    const dropShadowed = db.prepare(
      `DELETE FROM parcels WHERE queue = ? AND EXISTS
         (SELECT 1 FROM parcels AS kept WHERE kept.queue = ? AND kept.sender_id = parcels.sender_id
            AND kept.message_id = parcels.message_id)`,
    );
    const move = db.prepare('UPDATE parcels SET queue = ? WHERE queue = ?');
    this.moveTransaction = db.transaction((from: string, to: string): number => {
      if (from === to) return 0;
      dropShadowed.run(from, to);
      return move.run(to, from).changes;
    });

    this.putRow = (parcel: NewParcelRecord): 'stored' | 'replaced' => {
      const replaced = this.deleteStatement.run(parcel.queue, parcel.senderId, parcel.id).changes > 0;
      const { lastInsertRowid } = this.insertStatement.run(
        parcel.queue,
        parcel.senderId,
        parcel.id,
        parcel.recipientId,
        parcel.recipientInternetAddress,
        parcel.expiryDate.getTime(),
      );
      this.insertBodyStatement.run(lastInsertRowid, parcel.serialized);
      return replaced ? 'replaced' : 'stored';
    };
    this.putTransaction = db.transaction(this.putRow);
    // Only the small `parcels` rows are updated; the bodies are read, never rewritten.
    this.claimTransaction = db.transaction((queue: string, now: number, leaseUntil: number, limit: number) => {
      const rows = this.dueStatement.all(queue, now, now, limit) as ParcelRow[];
      return rows.map((row) => {
        this.claimStatement.run(leaseUntil, row.seq);
        const body = this.blobStatement.get(row.seq) as { serialized: Buffer };
        return rowToParcel({ ...row, next_attempt: leaseUntil, attempts: row.attempts + 1 }, body.serialized);
      });
    });
  }

  async put(parcel: NewParcelRecord): Promise<'stored' | 'replaced'> {
    return this.putTransaction.immediate(parcel);
  }

  /**
   * `put` for `writeBatch`, inside its transaction: no savepoint of its own (two more statements a parcel),
   * since a failing write rolls the whole batch back anyway.
   */
  putNow(parcel: NewParcelRecord): 'stored' | 'replaced' {
    return this.putRow(parcel);
  }

  /** `delete` for `writeBatch`. */
  deleteNow(key: ParcelKey): boolean {
    return this.deleteStatement.run(key.queue, key.senderId, key.id).changes > 0;
  }

  async get(key: ParcelKey): Promise<ParcelRecord | null> {
    const row = this.getStatement.get(key.queue, key.senderId, key.id) as ParcelRow | undefined;
    return row ? rowToParcel(row, row.serialized!) : null;
  }

  async delete(key: ParcelKey): Promise<boolean> {
    return this.deleteStatement.run(key.queue, key.senderId, key.id).changes > 0;
  }

  async *list(queue: QueueName, options: ParcelListOptions): AsyncIterable<ParcelRecord> {
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    let cursor = 0;
    for (;;) {
      // Metadata only: a page of 9 MiB parcels would not fit in memory. Blobs come one at a time.
      const now = options.now.getTime();
      const rows = (
        options.recipientId === undefined
          ? this.pageStatement.all(queue, cursor, now, pageSize)
          : this.recipientPageStatement.all(queue, options.recipientId, cursor, now, pageSize)
      ) as ParcelRow[];
      for (const row of rows) {
        cursor = row.seq;
        const blob = this.blobStatement.get(row.seq) as { serialized: Buffer } | undefined;
        if (blob) yield rowToParcel(row, blob.serialized); // else deleted meanwhile
      }
      if (rows.length < pageSize) return;
    }
  }

  async claimNextDue(queue: QueueName, now: Date, leaseUntil: Date): Promise<ParcelRecord | null> {
    const [claimed] = this.claimTransaction.immediate(queue, now.getTime(), leaseUntil.getTime(), 1);
    return claimed ?? null;
  }

  async claimDue(queue: QueueName, now: Date, leaseUntil: Date, limit: number): Promise<ParcelRecord[]> {
    if (limit < 1) return [];
    return this.claimTransaction.immediate(queue, now.getTime(), leaseUntil.getTime(), limit);
  }

  async reschedule(key: ParcelKey, nextAttemptDate: Date): Promise<boolean> {
    return this.rescheduleNow(key, nextAttemptDate);
  }

  /** `reschedule` for `writeBatch`. */
  rescheduleNow(key: ParcelKey, nextAttemptDate: Date): boolean {
    return this.rescheduleStatement.run(nextAttemptDate.getTime(), key.queue, key.senderId, key.id).changes > 0;
  }

  async releaseLeases(queue: QueueName, now: Date): Promise<number> {
    return this.releaseStatement.run(now.getTime(), queue, now.getTime()).changes;
  }

  async moveQueue(from: QueueName, to: QueueName): Promise<number> {
    return this.moveTransaction.immediate(from, to);
  }

  /** `moveQueue` inside another transaction (the registration's). */
  moveQueueNow(from: QueueName, to: QueueName): number {
    return this.moveTransaction(from, to);
  }

  async purgeExpired(now: Date): Promise<number> {
    return this.purgeStatement.run(now.getTime()).changes;
  }

  async count(queue?: QueueName): Promise<number> {
    const row = (
      queue === undefined
        ? this.db.prepare('SELECT COUNT(*) AS n FROM parcels').get()
        : this.db.prepare('SELECT COUNT(*) AS n FROM parcels WHERE queue = ?').get(queue)
    ) as { n: number };
    return row.n;
  }
}

export class SqliteIdLedger implements IdLedger {
  private readonly insertStatement;
  private readonly hasStatement;
  private readonly purgeStatement;

  constructor(db: Database.Database) {
    this.insertStatement = db.prepare('INSERT OR IGNORE INTO ledger (namespace, id, expiry) VALUES (?, ?, ?)');
    this.hasStatement = db.prepare('SELECT 1 FROM ledger WHERE namespace = ? AND id = ?');
    this.purgeStatement = db.prepare('DELETE FROM ledger WHERE expiry <= ?');
  }

  async record(namespace: string, id: string, expiryDate: Date): Promise<boolean> {
    return this.recordNow(namespace, id, expiryDate);
  }

  /** `record` for `writeBatch`. */
  recordNow(namespace: string, id: string, expiryDate: Date): boolean {
    return this.insertStatement.run(namespace, id, expiryDate.getTime()).changes > 0;
  }

  async has(namespace: string, id: string): Promise<boolean> {
    return this.hasNow(namespace, id);
  }

  /** `has` for `writeBatch`. */
  hasNow(namespace: string, id: string): boolean {
    return this.hasStatement.get(namespace, id) !== undefined;
  }

  async purgeExpired(now: Date): Promise<number> {
    return this.purgeStatement.run(now.getTime()).changes;
  }
}

interface PcaRow {
  seq: number;
  peer_id: string;
  sender_id: string;
  parcel_id: string;
  recipient_id: string;
  expiry: number;
}

export class SqlitePcaQueue implements PcaQueue {
  private readonly upsertStatement;
  private readonly pageStatement;
  private readonly deleteStatement;
  private readonly purgeStatement;
  private readonly putRow;
  private readonly putTransaction;

  constructor(private readonly db: Database.Database) {
    const deleteOld = db.prepare('DELETE FROM pcas WHERE peer_id = ? AND sender_id = ? AND parcel_id = ?');
    this.deleteStatement = deleteOld;
    this.upsertStatement = db.prepare(
      'INSERT INTO pcas (peer_id, sender_id, parcel_id, recipient_id, expiry) VALUES (?, ?, ?, ?, ?)',
    );
    this.pageStatement = db.prepare(
      'SELECT * FROM pcas WHERE peer_id = ? AND seq > ? AND expiry > ? ORDER BY seq LIMIT ?',
    );
    this.purgeStatement = db.prepare('DELETE FROM pcas WHERE expiry <= ?');
    this.putRow = (pca: PendingPca): void => {
      deleteOld.run(pca.peerId, pca.senderEndpointId, pca.parcelId);
      this.upsertStatement.run(
        pca.peerId,
        pca.senderEndpointId,
        pca.parcelId,
        pca.recipientEndpointId,
        pca.expiryDate.getTime(),
      );
    };
    this.putTransaction = db.transaction(this.putRow);
  }

  async put(pca: PendingPca): Promise<void> {
    this.putTransaction.immediate(pca);
  }

  /** `put` for `writeBatch`, inside its transaction (no savepoint of its own: see the parcel store's `putNow`). */
  putNow(pca: PendingPca): void {
    this.putRow(pca);
  }

  async *list(peerId: string, now: Date): AsyncIterable<PendingPca> {
    let cursor = 0;
    for (;;) {
      const rows = this.pageStatement.all(peerId, cursor, now.getTime(), DEFAULT_PAGE_SIZE) as PcaRow[];
      for (const row of rows) {
        cursor = row.seq;
        yield {
          peerId: row.peer_id,
          senderEndpointId: row.sender_id,
          recipientEndpointId: row.recipient_id,
          parcelId: row.parcel_id,
          expiryDate: new Date(row.expiry),
        };
      }
      if (rows.length < DEFAULT_PAGE_SIZE) return;
    }
  }

  async delete(peerId: string, senderEndpointId: string, parcelId: string): Promise<boolean> {
    return this.deleteNow(peerId, senderEndpointId, parcelId);
  }

  deleteNow(peerId: string, senderEndpointId: string, parcelId: string): boolean {
    return this.deleteStatement.run(peerId, senderEndpointId, parcelId).changes > 0;
  }

  async purgeExpired(now: Date): Promise<number> {
    return this.purgeStatement.run(now.getTime()).changes;
  }

  async count(peerId?: string): Promise<number> {
    const row = (
      peerId === undefined
        ? this.db.prepare('SELECT COUNT(*) AS n FROM pcas').get()
        : this.db.prepare('SELECT COUNT(*) AS n FROM pcas WHERE peer_id = ?').get(peerId)
    ) as { n: number };
    return row.n;
  }
}

export class SqliteCertificateRegistry implements CertificateRegistry {
  private readonly putStatement;
  private readonly getStatement;
  private readonly deleteStatement;
  private readonly listStatement;

  constructor(db: Database.Database) {
    this.putStatement = db.prepare('INSERT OR REPLACE INTO certificates (subject_id, der) VALUES (?, ?)');
    this.getStatement = db.prepare('SELECT der FROM certificates WHERE subject_id = ?');
    this.deleteStatement = db.prepare('DELETE FROM certificates WHERE subject_id = ?');
    this.listStatement = db.prepare('SELECT der FROM certificates ORDER BY subject_id');
  }

  async put(certificate: Certificate): Promise<void> {
    this.putStatement.run(certificate.calculateSubjectId(), certificate.serialize());
  }

  async get(subjectId: string): Promise<Certificate | null> {
    const row = this.getStatement.get(subjectId) as { der: Buffer } | undefined;
    return row ? Certificate.deserialize(row.der) : null;
  }

  async delete(subjectId: string): Promise<boolean> {
    return this.deleteStatement.run(subjectId).changes > 0;
  }

  async list(): Promise<Certificate[]> {
    return (this.listStatement.all() as { der: Buffer }[]).map((row) => Certificate.deserialize(row.der));
  }
}

export class SqliteRegistrationStore implements RegistrationStore {
  private readonly getStatement;
  private readonly saveTransaction;

  constructor(db: Database.Database, parcels: SqliteParcelStore) {
    this.getStatement = db.prepare(
      'SELECT relaying_gateway_der, user_gateway_der FROM registration WHERE singleton = 1',
    );
    const put = db.prepare(
      'INSERT OR REPLACE INTO registration (singleton, relaying_gateway_der, user_gateway_der) VALUES (1, ?, ?)',
    );
    this.saveTransaction = db.transaction(
      (record: RegistrationRecord, move: { readonly from: QueueName; readonly to: QueueName } | undefined): number => {
        put.run(record.relayingGatewayCertificate.serialize(), record.userGatewayCertificate?.serialize() ?? null);
        return move ? parcels.moveQueueNow(move.from, move.to) : 0;
      },
    );
  }

  async get(): Promise<RegistrationRecord | null> {
    const row = this.getStatement.get() as
      { relaying_gateway_der: Buffer; user_gateway_der: Buffer | null } | undefined;
    if (!row) return null;
    return {
      relayingGatewayCertificate: Certificate.deserialize(row.relaying_gateway_der),
      userGatewayCertificate: row.user_gateway_der ? Certificate.deserialize(row.user_gateway_der) : null,
    };
  }

  async save(record: RegistrationRecord, move?: { readonly from: QueueName; readonly to: QueueName }): Promise<number> {
    return this.saveTransaction.immediate(record, move);
  }
}

export class SqliteCourierAnswerStore implements CourierAnswerStore {
  private readonly getStatement;
  private readonly insertStatement;
  private readonly purgeStatement;

  constructor(db: Database.Database) {
    this.getStatement = db.prepare('SELECT response FROM courier_answers WHERE request_digest = ?');
    this.insertStatement = db.prepare(
      'INSERT OR IGNORE INTO courier_answers (request_digest, response, expiry) VALUES (?, ?, ?)',
    );
    this.purgeStatement = db.prepare('DELETE FROM courier_answers WHERE expiry <= ?');
  }

  async get(requestDigest: string): Promise<Buffer | null> {
    const row = this.getStatement.get(requestDigest) as { response: Buffer } | undefined;
    return row?.response ?? null;
  }

  async keep(requestDigest: string, response: Buffer, expiryDate: Date): Promise<Buffer> {
    // Transactions are serial here: nothing comes between the insert and the read.
    if (this.insertStatement.run(requestDigest, response, expiryDate.getTime()).changes > 0) return response;
    return (await this.get(requestDigest))!;
  }

  async purgeExpired(now: Date): Promise<number> {
    return this.purgeStatement.run(now.getTime()).changes;
  }
}
