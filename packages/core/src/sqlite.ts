import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';

import { RelaynetError } from './errors';

/**
 * The part of a better-sqlite3 `Database` that opening one needs. Core does not depend on the driver: each store
 * passes its own constructor, so only the packages that keep SQLite databases load it.
 */
export interface SqliteConnection {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction(fn: () => void): { immediate(): void };
  close(): unknown;
}

export interface SqliteOpenOptions<Connection extends SqliteConnection> {
  /** Open the file (for example `(path) => new Database(path)`). */
  readonly connect: (path: string) => Connection;
  /** The version this code writes in `PRAGMA user_version`; a database with a later one is refused. */
  readonly schemaVersion: number;
  /**
   * Bring the schema from `fromVersion` (0 for a new database) to `schemaVersion`. It runs at every open, in the
   * same immediate transaction as the version check, so it must be idempotent (`CREATE … IF NOT EXISTS`); two
   * processes opening the same database at once take turns.
   */
  readonly migrate: (connection: Connection, fromVersion: number) => void;
  /** Page size for a new database (SQLite ignores it once the database is in WAL mode). */
  readonly pageSize?: number;
  readonly foreignKeys?: boolean;
}

/** The database was written by a later version of the code, whose schema this one does not know. */
export class SchemaVersionError extends RelaynetError {}

/** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Open (creating if need be) the SQLite database at `path` (or `:memory:`) the way every store here keeps one:
 * owner-only files, write-ahead log, a commit durable once it returns (`synchronous = FULL`), a busy timeout so
 * that concurrent writers wait rather than fail, and a schema version checked and migrated in one transaction.
 * The connection is closed if any of it fails.
 */
export function openSqliteDatabase<Connection extends SqliteConnection>(
  path: string,
  options: SqliteOpenOptions<Connection>,
): Connection {
  const inMemory = path === ':memory:';
  // Created owner-only before SQLite opens it: SQLite gives the -wal and -shm files the database file's mode.
  if (!inMemory) {
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  }
  const connection = options.connect(path);
  try {
    if (options.pageSize !== undefined) connection.pragma(`page_size = ${options.pageSize}`);
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = FULL');
    if (options.foreignKeys) connection.pragma('foreign_keys = ON');
    connection.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    connection
      .transaction(() => {
        const version = connection.pragma('user_version', { simple: true }) as number;
        if (version > options.schemaVersion) {
          throw new SchemaVersionError(
            `${path} has schema version ${version}; this code knows up to ${options.schemaVersion}`,
          );
        }
        options.migrate(connection, version);
        connection.pragma(`user_version = ${options.schemaVersion}`);
      })
      .immediate();
    // Databases created by earlier versions: tighten the files already there.
    if (!inMemory) {
      for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) chmodSync(path + suffix, 0o600);
    }
  } catch (error) {
    connection.close();
    throw error;
  }
  return connection;
}
