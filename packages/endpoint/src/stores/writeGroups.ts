import type Database from 'better-sqlite3';

interface PendingWrite {
  readonly write: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Writes submitted during one turn of the event loop share one SQLite transaction, so one fsync.
 *
 * An endpoint that sends or receives many messages at once (the adapter, an app collecting a day's
 * timeline) makes several small writes per message: its new session key, the sender's, the dedup
 * entry, the outbox entry. better-sqlite3 commits synchronously, blocking the event loop while the
 * disk syncs, so one commit per write made those endpoints spend most of their time waiting.
 *
 * Each write's promise resolves with its result after the commit that holds it: the change is durable
 * then, as before. A write is not visible to reads until then (callers await their writes anyway).
 * If a group fails, its writes are retried one by one, so a bad write fails only its own caller.
 */
export class WriteGroups {
  private pending: PendingWrite[] = [];
  private scheduled = false;

  constructor(private readonly db: Database.Database) {}

  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commit what is pending now (the database is about to close, say). */
  flush(): void {
    this.scheduled = false;
    const group = this.pending;
    this.pending = [];
    if (group.length === 0) return;
    if (!this.db.open) {
      for (const entry of group) entry.reject(new Error('The endpoint database is closed'));
      return;
    }
    let results: unknown[];
    try {
      results = this.db.transaction(() => group.map((entry) => entry.write())).immediate();
    } catch (error) {
      if (group.length === 1) {
        group[0].reject(error);
        return;
      }
      for (const entry of group) {
        try {
          entry.resolve(this.db.transaction(entry.write).immediate());
        } catch (single) {
          entry.reject(single);
        }
      }
      return;
    }
    group.forEach((entry, index) => entry.resolve(results[index]));
  }
}
