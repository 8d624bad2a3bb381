import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openSqliteDatabase, SchemaVersionError, type SqliteOpenOptions } from './sqlite';

describe('openSqliteDatabase', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-'));
    path = join(dir, 'store.sqlite');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const options = (
    schemaVersion: number,
    migrate: SqliteOpenOptions<Database.Database>['migrate'] = (db) =>
      db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY)'),
  ): SqliteOpenOptions<Database.Database> => ({ connect: (p) => new Database(p), schemaVersion, migrate });

  test('opens a new database durable, in WAL mode, owner-only, at the schema version', () => {
    const db = openSqliteDatabase(path, options(3));
    try {
      db.prepare('INSERT INTO items (id) VALUES (1)').run();
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      expect(db.pragma('user_version', { simple: true })).toBe(3);
      for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      db.close();
    }
  });

  test('hands the migration the version found, and keeps the data', () => {
    openSqliteDatabase(path, options(1)).close();
    const seen: number[] = [];
    const db = openSqliteDatabase(
      path,
      options(2, (connection, from) => {
        seen.push(from);
        connection.exec('CREATE TABLE IF NOT EXISTS more (id INTEGER PRIMARY KEY)');
      }),
    );
    db.close();
    openSqliteDatabase(
      path,
      options(2, (_, from) => seen.push(from)),
    ).close();
    expect(seen).toEqual([1, 2]);
  });

  test('refuses a database from a later version of the code, and closes it', () => {
    openSqliteDatabase(path, options(4)).close();
    let connection: Database.Database | undefined;
    const open = (): unknown =>
      openSqliteDatabase(path, {
        ...options(3),
        connect: (p) => (connection = new Database(p)),
      });
    expect(open).toThrow(SchemaVersionError);
    expect(open).toThrow(`${path} has schema version 4; this code knows up to 3`);
    expect(connection?.open).toBe(false);
  });

  test('a failed migration changes nothing', () => {
    openSqliteDatabase(path, options(1)).close();
    const failing = options(2, (db) => {
      db.exec('CREATE TABLE half (id INTEGER)');
      throw new Error('migration bug');
    });
    expect(() => openSqliteDatabase(path, failing)).toThrow('migration bug');
    const db = new Database(path);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(1);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    } finally {
      db.close();
    }
  });

  test('sets the page size of a new database and foreign keys when asked', () => {
    const db = openSqliteDatabase(path, { ...options(1), pageSize: 65536, foreignKeys: true });
    try {
      expect(db.pragma('page_size', { simple: true })).toBe(65536);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });

  test('opens an in-memory database without touching the filesystem', () => {
    const db = openSqliteDatabase(':memory:', options(1));
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });
});
