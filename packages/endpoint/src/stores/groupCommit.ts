import type Database from 'better-sqlite3';
import { GroupCommitter } from '@twitter-relaynet/core';

/** One write to the endpoint's database, run inside its group's transaction; what it returns is its result. */
export type SqliteWrite = () => unknown;

/**
 * The endpoint's writes, committed in groups (core's `GroupCommitter`): the writes submitted during one
 * turn of the event loop share one SQLite transaction, so one fsync.
 *
 * An endpoint that sends or receives many messages at once (the adapter, an app collecting a day's
 * timeline) makes several small writes per message: its new session key, the sender's, the dedup
 * entry, the outbox entry. better-sqlite3 commits synchronously, blocking the event loop while the
 * disk syncs, so one commit per write made those endpoints spend most of their time waiting.
 *
 * Each write's promise resolves with its result after the commit that holds it: the change is durable
 * then. A write is not visible to reads until then (callers await their writes anyway). If a group
 * fails, its writes are committed again one by one, so a bad write fails only its own caller.
 */
export function sqliteWriteCommitter(db: Database.Database): GroupCommitter<SqliteWrite, unknown> {
  return new GroupCommitter<SqliteWrite, unknown>((writes) => {
    if (!db.open) throw new Error('The endpoint database is closed');
    return db.transaction(() => writes.map((write) => write())).immediate();
  });
}
