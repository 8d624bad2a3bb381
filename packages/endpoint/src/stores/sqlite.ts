/**
 * The durable stores: one SQLite database (better-sqlite3) in the endpoint's data directory, in WAL mode
 * with synchronous=FULL, so a change is on disk (fsync'd) when the call that made it resolves. The
 * frequent writes (session keys, dedup entries, the outbox) made in one turn of the event loop share a
 * commit (groupCommit.ts). The directory is 0700 and the database files 0600: they hold the endpoint's
 * private keys.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import {
  Certificate,
  derDeserializeEcdhPrivateKey,
  derDeserializeEcdhPublicKey,
  derDeserializeRsaPrivateKey,
  derSerializePrivateKey,
  derSerializePublicKey,
  type GroupCommitter,
  LruCache,
  openSqliteDatabase,
} from '@twitter-relaynet/core';

import { type SqliteWrite, sqliteWriteCommitter } from './groupCommit';
import type {
  DedupLedger,
  EndpointStores,
  IdentityRecord,
  KeyStore,
  Outbox,
  OutboxEntry,
  OwnSessionKey,
  PeerSessionKeyRecord,
  PeerSessionKeyStore,
} from './types';

export const DATABASE_FILE_NAME = 'endpoint.sqlite';
const SCHEMA_VERSION = 1;

/**
 * Session keys kept in memory (ours by id, the peers' latest by peer): a run of messages uses the same key,
 * and reading and importing it again for each cost 0.1–0.2 ms of CPU a message (the private key's import mostly).
 */
const SESSION_KEY_CACHE_LIMIT = 4096;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS identity (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  private_key BLOB NOT NULL,
  certificate BLOB,
  chain BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS own_session_keys (
  key_id BLOB PRIMARY KEY,
  private_key BLOB NOT NULL,
  peer_id TEXT,
  creation INTEGER NOT NULL,
  expiry INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS own_session_keys_initial ON own_session_keys (peer_id, creation);
CREATE INDEX IF NOT EXISTS own_session_keys_expiry ON own_session_keys (expiry);

CREATE TABLE IF NOT EXISTS peer_session_keys (
  peer_id TEXT PRIMARY KEY,
  key_id BLOB NOT NULL,
  public_key BLOB NOT NULL,
  creation INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS dedup (
  sender_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  expiry INTEGER NOT NULL,
  PRIMARY KEY (sender_id, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_expiry ON dedup (expiry);

CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  parcel_id TEXT NOT NULL UNIQUE,
  recipient_id TEXT NOT NULL,
  gateway_address TEXT,
  parcel BLOB NOT NULL,
  expiry INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt, seq);
CREATE INDEX IF NOT EXISTS outbox_expiry ON outbox (expiry);
`;

/** Create `dataDir` (0700) if needed, and make it owner-only if it exists. */
export function ensurePrivateDirectory(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stat = statSync(dataDir);
  if (!stat.isDirectory()) throw new Error(`${dataDir} is not a directory`);
  if ((stat.mode & 0o077) !== 0) chmodSync(dataDir, 0o700);
}

/** Open (creating on first use) the endpoint database in `dataDir`. */
export function openEndpointSqliteStores(dataDir: string, fileName = DATABASE_FILE_NAME): SqliteEndpointStores {
  ensurePrivateDirectory(dataDir);
  const path = join(dataDir, fileName);
  const db = openSqliteDatabase(path, {
    connect: (file) => new Database(file),
    schemaVersion: SCHEMA_VERSION,
    migrate: (connection) => connection.exec(SCHEMA),
    foreignKeys: true,
  });
  return new SqliteEndpointStores(db, path);
}

export class SqliteEndpointStores implements EndpointStores {
  readonly keys: KeyStore;
  readonly peerSessionKeys: PeerSessionKeyStore;
  readonly dedup: DedupLedger;
  readonly outbox: Outbox;

  private readonly writes: GroupCommitter<SqliteWrite, unknown>;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {
    this.writes = sqliteWriteCommitter(db);
    this.keys = new SqliteKeyStore(db, this.writes);
    this.peerSessionKeys = new SqlitePeerSessionKeyStore(db, this.writes);
    this.dedup = new SqliteDedupLedger(db, this.writes);
    this.outbox = new SqliteOutbox(db, this.writes);
  }

  async close(): Promise<void> {
    await this.writes.flush();
    if (this.db.open) this.db.close();
  }
}

// ---------------------------------------------------------------------------------------------

interface OwnSessionKeyRow {
  key_id: Buffer;
  private_key: Buffer;
  peer_id: string | null;
  creation: number;
  expiry: number;
}

function toOwnSessionKey(row: OwnSessionKeyRow): OwnSessionKey {
  return {
    keyId: row.key_id,
    privateKey: derDeserializeEcdhPrivateKey(row.private_key),
    peerId: row.peer_id,
    creationDate: new Date(row.creation),
    expiryDate: new Date(row.expiry),
  };
}

class SqliteKeyStore implements KeyStore {
  private readonly statements;
  /** By key id (hex); an entry is added once its key is committed, so it never holds what the database lacks. */
  private readonly sessionKeys = new LruCache<string, OwnSessionKey>(SESSION_KEY_CACHE_LIMIT);

  constructor(
    db: Database.Database,
    private readonly writes: GroupCommitter<SqliteWrite, unknown>,
  ) {
    this.statements = {
      getIdentity: db.prepare<[], { private_key: Buffer; certificate: Buffer | null; chain: Buffer }>(
        'SELECT private_key, certificate, chain FROM identity WHERE singleton = 1',
      ),
      saveIdentity: db.prepare(
        'INSERT OR REPLACE INTO identity (singleton, private_key, certificate, chain) VALUES (1, ?, ?, ?)',
      ),
      saveSessionKey: db.prepare(
        'INSERT OR REPLACE INTO own_session_keys (key_id, private_key, peer_id, creation, expiry) VALUES (?, ?, ?, ?, ?)',
      ),
      getSessionKey: db.prepare<[Buffer, number], OwnSessionKeyRow>(
        'SELECT * FROM own_session_keys WHERE key_id = ? AND expiry >= ?',
      ),
      latestInitial: db.prepare<[number], OwnSessionKeyRow>(
        'SELECT * FROM own_session_keys WHERE peer_id IS NULL AND expiry >= ? ORDER BY creation DESC LIMIT 1',
      ),
      deleteExpired: db.prepare('DELETE FROM own_session_keys WHERE expiry < ?'),
    };
  }

  async getIdentity(): Promise<IdentityRecord | null> {
    const row = this.statements.getIdentity.get();
    if (!row) return null;
    return {
      privateKey: derDeserializeRsaPrivateKey(row.private_key),
      certificate: row.certificate ? Certificate.deserialize(row.certificate) : null,
      certificateChain: decodeChain(row.chain),
    };
  }

  async saveIdentity(identity: IdentityRecord): Promise<void> {
    this.statements.saveIdentity.run(
      derSerializePrivateKey(identity.privateKey),
      identity.certificate ? identity.certificate.serialize() : null,
      encodeChain(identity.certificateChain),
    );
  }

  async saveSessionKey(key: OwnSessionKey): Promise<void> {
    const privateKey = derSerializePrivateKey(key.privateKey);
    await this.writes.submitOne(() =>
      this.statements.saveSessionKey.run(
        key.keyId,
        privateKey,
        key.peerId,
        key.creationDate.getTime(),
        key.expiryDate.getTime(),
      ),
    );
    this.sessionKeys.set(key.keyId.toString('hex'), key);
  }

  async getSessionKey(keyId: Buffer, now: Date): Promise<OwnSessionKey | null> {
    const cacheKey = keyId.toString('hex');
    const cached = this.sessionKeys.get(cacheKey);
    if (cached) return cached.expiryDate.getTime() >= now.getTime() ? cached : null;
    const row = this.statements.getSessionKey.get(keyId, now.getTime());
    if (!row) return null;
    const key = toOwnSessionKey(row);
    this.sessionKeys.set(cacheKey, key);
    return key;
  }

  async getLatestInitialSessionKey(now: Date): Promise<OwnSessionKey | null> {
    const row = this.statements.latestInitial.get(now.getTime());
    return row ? toOwnSessionKey(row) : null;
  }

  async deleteExpiredSessionKeys(now: Date): Promise<number> {
    this.sessionKeys.deleteWhere((key) => key.expiryDate.getTime() < now.getTime());
    return this.statements.deleteExpired.run(now.getTime()).changes;
  }
}

/** A certificate chain as a blob: each DER certificate prefixed with its uint32 length. */
function encodeChain(chain: readonly { serialize(): Buffer }[]): Buffer {
  return Buffer.concat(
    chain.flatMap((certificate) => {
      const der = certificate.serialize();
      const length = Buffer.alloc(4);
      length.writeUInt32BE(der.length);
      return [length, der];
    }),
  );
}

function decodeChain(blob: Buffer): Certificate[] {
  const chain: Certificate[] = [];
  let offset = 0;
  while (offset < blob.length) {
    const length = blob.readUInt32BE(offset);
    chain.push(Certificate.deserialize(blob.subarray(offset + 4, offset + 4 + length)));
    offset += 4 + length;
  }
  return chain;
}

class SqlitePeerSessionKeyStore implements PeerSessionKeyStore {
  private readonly statements;
  private readonly saveIfNewer_;
  /** By peer id; updated once a change is committed, so it never holds what the database lacks. */
  private readonly latest = new LruCache<string, PeerSessionKeyRecord>(SESSION_KEY_CACHE_LIMIT);

  constructor(
    db: Database.Database,
    private readonly writes: GroupCommitter<SqliteWrite, unknown>,
  ) {
    this.statements = {
      get: db.prepare<[string], { key_id: Buffer; public_key: Buffer; creation: number }>(
        'SELECT key_id, public_key, creation FROM peer_session_keys WHERE peer_id = ?',
      ),
      put: db.prepare(
        'INSERT OR REPLACE INTO peer_session_keys (peer_id, key_id, public_key, creation) VALUES (?, ?, ?, ?)',
      ),
      delete: db.prepare('DELETE FROM peer_session_keys WHERE peer_id = ?'),
    };
    // Run inside a write group's transaction: the read and the write are atomic.
    this.saveIfNewer_ = (peerId: string, record: PeerSessionKeyRecord): boolean => {
      const current = this.statements.get.get(peerId);
      const creation = storedCreation(record);
      if (current && current.creation > creation) return false;
      if (current && current.key_id.equals(record.sessionKey.keyId)) return false;
      this.statements.put.run(
        peerId,
        record.sessionKey.keyId,
        derSerializePublicKey(record.sessionKey.publicKey),
        creation,
      );
      return true;
    };
  }

  async get(peerId: string): Promise<PeerSessionKeyRecord | null> {
    const cached = this.latest.get(peerId);
    if (cached) return cached;
    const row = this.statements.get.get(peerId);
    if (!row) return null;
    const record = {
      sessionKey: { keyId: row.key_id, publicKey: derDeserializeEcdhPublicKey(row.public_key) },
      creationDate: new Date(row.creation),
    };
    this.latest.set(peerId, record);
    return record;
  }

  async saveIfNewer(peerId: string, record: PeerSessionKeyRecord): Promise<boolean> {
    const stored = (await this.writes.submitOne(() => this.saveIfNewer_(peerId, record))) as boolean;
    // Commits resolve in the order their writes ran, so the last key stored is the one cached.
    if (stored) {
      this.latest.set(peerId, { sessionKey: record.sessionKey, creationDate: new Date(storedCreation(record)) });
    }
    return stored;
  }

  async delete(peerId: string): Promise<void> {
    this.statements.delete.run(peerId);
    this.latest.delete(peerId);
  }
}

/** Peer keys' dates are compared at RAMF's one-second resolution; on a tie the later arrival wins. */
function storedCreation(record: PeerSessionKeyRecord): number {
  return Math.floor(record.creationDate.getTime() / 1000) * 1000;
}

class SqliteDedupLedger implements DedupLedger {
  private readonly statements;

  constructor(
    db: Database.Database,
    private readonly writes: GroupCommitter<SqliteWrite, unknown>,
  ) {
    this.statements = {
      has: db.prepare<[string, string, number], { one: number }>(
        'SELECT 1 AS one FROM dedup WHERE sender_id = ? AND message_id = ? AND expiry >= ?',
      ),
      record: db.prepare(
        `INSERT INTO dedup (sender_id, message_id, expiry) VALUES (?, ?, ?)
         ON CONFLICT (sender_id, message_id) DO UPDATE SET expiry = max(expiry, excluded.expiry)`,
      ),
      deleteExpired: db.prepare('DELETE FROM dedup WHERE expiry < ?'),
    };
  }

  async has(senderId: string, messageId: string, now: Date): Promise<boolean> {
    return this.statements.has.get(senderId, messageId, now.getTime()) !== undefined;
  }

  async record(senderId: string, messageId: string, expiryDate: Date): Promise<void> {
    await this.writes.submitOne(() => this.statements.record.run(senderId, messageId, expiryDate.getTime()));
  }

  async deleteExpired(now: Date): Promise<number> {
    return this.statements.deleteExpired.run(now.getTime()).changes;
  }
}

interface OutboxRow {
  parcel_id: string;
  recipient_id: string;
  gateway_address: string | null;
  parcel: Buffer;
  expiry: number;
  next_attempt: number;
  attempts: number;
}

function toOutboxEntry(row: OutboxRow): OutboxEntry {
  return {
    parcelId: row.parcel_id,
    recipientId: row.recipient_id,
    gatewayAddress: row.gateway_address,
    parcel: row.parcel,
    expiryDate: new Date(row.expiry),
    nextAttemptDate: new Date(row.next_attempt),
    attempts: row.attempts,
  };
}

class SqliteOutbox implements Outbox {
  private readonly statements;
  private readonly deleteExpiredTransaction;
  private readonly deleteManyTransaction;

  constructor(
    db: Database.Database,
    private readonly writes: GroupCommitter<SqliteWrite, unknown>,
  ) {
    this.statements = {
      add: db.prepare(
        `INSERT INTO outbox (parcel_id, recipient_id, gateway_address, parcel, expiry, next_attempt, attempts)
         VALUES (@parcelId, @recipientId, @gatewayAddress, @parcel, @expiry, @nextAttempt, @attempts)
         ON CONFLICT (parcel_id) DO UPDATE SET recipient_id = excluded.recipient_id,
           gateway_address = excluded.gateway_address, parcel = excluded.parcel, expiry = excluded.expiry,
           next_attempt = excluded.next_attempt, attempts = excluded.attempts`,
      ),
      listDue: db.prepare<[number, number, number], OutboxRow>(
        'SELECT * FROM outbox WHERE next_attempt <= ? AND expiry >= ? ORDER BY next_attempt, seq LIMIT ?',
      ),
      next: db.prepare<[], { next_attempt: number }>(
        'SELECT next_attempt FROM outbox ORDER BY next_attempt, seq LIMIT 1',
      ),
      reschedule: db.prepare('UPDATE outbox SET next_attempt = ?, attempts = ? WHERE parcel_id = ?'),
      delete: db.prepare('DELETE FROM outbox WHERE parcel_id = ?'),
      expired: db.prepare<[number], OutboxRow>('SELECT * FROM outbox WHERE expiry < ? ORDER BY seq'),
      deleteExpired: db.prepare('DELETE FROM outbox WHERE expiry < ?'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox'),
    };
    this.deleteManyTransaction = db.transaction((parcelIds: readonly string[]) => {
      for (const parcelId of parcelIds) this.statements.delete.run(parcelId);
    });
    this.deleteExpiredTransaction = db.transaction((now: number): OutboxRow[] => {
      const rows = this.statements.expired.all(now);
      this.statements.deleteExpired.run(now);
      return rows;
    });
  }

  async add(entry: OutboxEntry): Promise<void> {
    const row = {
      parcelId: entry.parcelId,
      recipientId: entry.recipientId,
      gatewayAddress: entry.gatewayAddress,
      parcel: entry.parcel,
      expiry: entry.expiryDate.getTime(),
      nextAttempt: entry.nextAttemptDate.getTime(),
      attempts: entry.attempts,
    };
    await this.writes.submitOne(() => this.statements.add.run(row));
  }

  async listDue(now: Date, limit: number): Promise<OutboxEntry[]> {
    return this.statements.listDue.all(now.getTime(), now.getTime(), limit).map(toOutboxEntry);
  }

  async nextAttemptDate(): Promise<Date | null> {
    const row = this.statements.next.get();
    return row ? new Date(row.next_attempt) : null;
  }

  async reschedule(parcelId: string, nextAttemptDate: Date, attempts: number): Promise<void> {
    this.statements.reschedule.run(nextAttemptDate.getTime(), attempts, parcelId);
  }

  async delete(parcelId: string): Promise<void> {
    this.statements.delete.run(parcelId);
  }

  async deleteMany(parcelIds: readonly string[]): Promise<void> {
    if (parcelIds.length) this.deleteManyTransaction.immediate(parcelIds);
  }

  async deleteExpired(now: Date): Promise<OutboxEntry[]> {
    return this.deleteExpiredTransaction.immediate(now.getTime()).map(toOutboxEntry);
  }

  async count(): Promise<number> {
    return this.statements.count.get()!.n;
  }
}
