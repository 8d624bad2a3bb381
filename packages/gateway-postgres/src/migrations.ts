import { SchemaVersionError } from '@twitter-relaynet/core';
import type { Pool } from 'pg';

/**
 * The schema, one migration per version, applied in order at start. Never edit a migration that has
 * shipped: add the next one. Times are `timestamptz` (millisecond dates from JS fit exactly).
 */
export const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE SEQUENCE gateway_seq;

-- The key is the duplicate guard: the same (queue, sender id, message id) updates the row in place
-- (ON CONFLICT), so a concurrent delivery's DELETE of that parcel still finds it.
CREATE TABLE parcels (
  queue TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  seq BIGINT NOT NULL DEFAULT nextval('gateway_seq'),
  recipient_id TEXT NOT NULL,
  recipient_address TEXT,
  expiry TIMESTAMPTZ NOT NULL,
  next_attempt TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
  attempts INTEGER NOT NULL DEFAULT 0,
  serialized BYTEA NOT NULL,
  PRIMARY KEY (queue, sender_id, message_id)
);
CREATE INDEX parcels_by_queue ON parcels (queue, seq);
CREATE INDEX parcels_by_recipient ON parcels (queue, recipient_id, seq);
CREATE INDEX parcels_by_due_date ON parcels (queue, next_attempt, seq);
CREATE INDEX parcels_by_expiry ON parcels (expiry);

CREATE TABLE ledger (
  namespace TEXT NOT NULL,
  id TEXT NOT NULL,
  expiry TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (namespace, id)
);
CREATE INDEX ledger_by_expiry ON ledger (expiry);

CREATE TABLE pcas (
  peer_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  parcel_id TEXT NOT NULL,
  seq BIGINT NOT NULL DEFAULT nextval('gateway_seq'),
  recipient_id TEXT NOT NULL,
  expiry TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (peer_id, sender_id, parcel_id)
);
CREATE INDEX pcas_by_peer ON pcas (peer_id, seq);
CREATE INDEX pcas_by_expiry ON pcas (expiry);

-- Certificates only: public. Private keys never go into this database.
CREATE TABLE certificates (
  subject_id TEXT PRIMARY KEY,
  der BYTEA NOT NULL
);

-- The relaying gateway's id (public: derived from its key), recorded by the first instance: an instance
-- started with another identity key is refused instead of serving the same queues under another name.
CREATE TABLE gateway_identity (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  gateway_id TEXT NOT NULL
);

CREATE TABLE registration (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  relaying_gateway_der BYTEA NOT NULL,
  user_gateway_der BYTEA
);
`,
  },
  {
    version: 2,
    sql: `
-- The relaying gateway's answers to courier registration requests, by request digest: every instance answers a
-- request the same way (the first answer kept), and never issues a second certificate for it.
CREATE TABLE courier_answers (
  request_digest TEXT PRIMARY KEY,
  response BYTEA NOT NULL,
  expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX courier_answers_by_expiry ON courier_answers (expiry);
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Any constant shared by every instance: serializes the migrations of instances that start together. */
const MIGRATION_LOCK = 0x7477_6d67; // "twmg"

/**
 * Bring the database to SCHEMA_VERSION. Instances that start at once queue on a session advisory lock;
 * the first one migrates, the others find nothing left to do. Each version is applied in its own
 * transaction with its row in `schema_migrations`, so an interrupted migration leaves the previous
 * version intact. Resolves to the versions applied by this call.
 */
export async function migrate(pool: Pool): Promise<number[]> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version INTEGER PRIMARY KEY,
           applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )`,
      );
      const { rows } = await client.query<{ version: number | null }>(
        'SELECT max(version) AS version FROM schema_migrations',
      );
      const current = rows[0].version ?? 0;
      if (current > SCHEMA_VERSION) {
        throw new SchemaVersionError(
          `The database has schema version ${current}; this code knows up to ${SCHEMA_VERSION}: upgrade this instance`,
        );
      }
      const applied: number[] = [];
      for (const migration of MIGRATIONS) {
        if (migration.version <= current) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        applied.push(migration.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {
        broken = true; // the session is gone, and its lock with it
      });
    }
  } catch (error) {
    broken = true;
    throw error;
  } finally {
    client.release(broken);
  }
}
