/**
 * The app's own small store (SQLite, `twitter-app.sqlite` in its data directory, WAL + synchronous=FULL, 0600):
 * the tweets it queued and their state, the tweets received from the home timeline, the outcomes of its tweets,
 * and the current subscription. Every write is on disk when the call returns, so a parcel is acknowledged to the
 * gateway only after what it carried is stored.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { openSqliteDatabase } from '@twitter-relaynet/core';
import { ensurePrivateDirectory } from '@twitter-relaynet/endpoint';

export const STORE_FILE_NAME = 'twitter-app.sqlite';
const SCHEMA_VERSION = 1;

/**
 * queued (saved in the app; its parcel made when it can be) → sent (the user gateway acknowledged the parcel: on its
 * way) → confirmed | failed (the adapter's outcome).
 */
export type TweetState = 'queued' | 'sent' | 'confirmed' | 'failed';
export const TWEET_STATES: readonly TweetState[] = ['queued', 'sent', 'confirmed', 'failed'];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outgoing_tweets (
  id TEXT PRIMARY KEY,
  text TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'confirmed', 'failed')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  parcel_id TEXT,
  parcel BLOB,
  sent_at INTEGER,
  outcome_at INTEGER,
  x_tweet_id TEXT,
  x_url TEXT,
  failure_reason TEXT
);
CREATE INDEX IF NOT EXISTS outgoing_tweets_state ON outgoing_tweets (state, created_at);

CREATE TABLE IF NOT EXISTS timeline_tweets (
  id TEXT PRIMARY KEY,
  author_username TEXT NOT NULL,
  author_name TEXT,
  text TEXT NOT NULL,
  url TEXT,
  created_at INTEGER,
  received_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  shown INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS timeline_tweets_shown ON timeline_tweets (shown, seq);

CREATE TABLE IF NOT EXISTS outcomes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  parcel_id TEXT NOT NULL UNIQUE,
  tweet_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('posted', 'failed', 'waiting')),
  x_tweet_id TEXT,
  x_url TEXT,
  reason TEXT,
  received_at INTEGER NOT NULL,
  shown INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS subscription (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  adapter_id TEXT NOT NULL,
  endpoint_certificate_id TEXT NOT NULL,
  credentials_digest TEXT NOT NULL,
  pda_start INTEGER NOT NULL,
  pda_expiry INTEGER NOT NULL,
  parcel_id TEXT NOT NULL,
  sent_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS subscription_status (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  state TEXT NOT NULL CHECK (state IN ('active', 'failed', 'waiting')),
  reason TEXT,
  http_status INTEGER,
  date INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  shown INTEGER NOT NULL DEFAULT 0
);
`;

/**
 * Tables whose CHECK gained the adapter's 'waiting' state: SQLite cannot alter a CHECK, so a store made before
 * gets each rebuilt from SCHEMA, its rows copied as they are.
 */
const WIDENED_TABLES = ['outcomes', 'subscription_status'] as const;

function widenChecks(db: Database.Database): void {
  for (const table of WIDENED_TABLES) {
    const { sql } = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) as {
      sql: string;
    };
    if (sql.includes("'waiting'")) continue;
    const create = SCHEMA.slice(SCHEMA.indexOf(`CREATE TABLE IF NOT EXISTS ${table} (`)).split(';')[0];
    db.transaction(() => {
      db.exec(`ALTER TABLE ${table} RENAME TO ${table}_before_waiting`);
      db.exec(create);
      db.exec(`INSERT INTO ${table} SELECT * FROM ${table}_before_waiting; DROP TABLE ${table}_before_waiting`);
    })();
  }
}

export interface OutgoingTweet {
  readonly id: string;
  readonly text: string;
  readonly state: TweetState;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly parcelId: string | null;
  readonly sentAt: Date | null;
  readonly outcomeAt: Date | null;
  readonly xTweetId: string | null;
  readonly xUrl: string | null;
  readonly failureReason: string | null;
  /** Not final yet: why the adapter's last word was that the tweet waits for the X API (null otherwise). */
  readonly waitingReason: string | null;
}

export interface TimelineTweet {
  readonly id: string;
  readonly authorUsername: string;
  readonly authorName: string | null;
  readonly text: string;
  readonly url: string | null;
  readonly createdAt: Date | null;
  readonly receivedAt: Date;
}

/**
 * What the adapter last said about the subscription: ACTIVE (it read the timeline), FAILED (X refused the
 * credentials) or WAITING (it could not reach the X API yet, and keeps trying).
 */
export interface SubscriptionStatusRecord {
  readonly state: 'active' | 'failed' | 'waiting';
  readonly reason: string | null;
  readonly httpStatus: number | null;
  /** When the adapter said it. */
  readonly date: Date;
  readonly receivedAt: Date;
}

export interface OutcomeRecord {
  readonly parcelId: string;
  /** The id of our tweet (OutgoingTweet.id) it is about. */
  readonly tweetId: string;
  /** waiting: not final, the tweet is still 'sent' (the adapter could not reach the X API yet). */
  readonly status: 'posted' | 'failed' | 'waiting';
  readonly xTweetId: string | null;
  readonly xUrl: string | null;
  readonly reason: string | null;
  readonly receivedAt: Date;
  /** Our tweet's text, when we know it. */
  readonly text?: string | null;
}

export interface SubscriptionRecord {
  readonly adapterId: string;
  /** The subject id + serial of the endpoint certificate the PDA hangs from (a new certificate needs a new PDA). */
  readonly endpointCertificateId: string;
  /** SHA-256 of the credentials sent, to resubscribe when they change (the credentials themselves are not kept). */
  readonly credentialsDigest: string;
  readonly pdaStart: Date;
  readonly pdaExpiry: Date;
  readonly parcelId: string;
  readonly sentAt: Date;
}

export type StatusCounts = Record<TweetState, number>;

interface OutgoingRow {
  id: string;
  text: string;
  state: TweetState;
  created_at: number;
  expires_at: number;
  parcel_id: string | null;
  sent_at: number | null;
  outcome_at: number | null;
  x_tweet_id: string | null;
  x_url: string | null;
  failure_reason: string | null;
  waiting_reason?: string | null;
}

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

function toOutgoing(row: OutgoingRow): OutgoingTweet {
  return {
    id: row.id,
    text: row.text,
    state: row.state,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    parcelId: row.parcel_id,
    sentAt: date(row.sent_at),
    outcomeAt: date(row.outcome_at),
    xTweetId: row.x_tweet_id,
    xUrl: row.x_url,
    failureReason: row.failure_reason,
    waitingReason: row.waiting_reason ?? null,
  };
}

interface TimelineRow {
  id: string;
  author_username: string;
  author_name: string | null;
  text: string;
  url: string | null;
  created_at: number | null;
  received_at: number;
}

function toTimeline(row: TimelineRow): TimelineTweet {
  return {
    id: row.id,
    authorUsername: row.author_username,
    authorName: row.author_name,
    text: row.text,
    url: row.url,
    createdAt: date(row.created_at),
    receivedAt: new Date(row.received_at),
  };
}

interface OutcomeRow {
  parcel_id: string;
  tweet_id: string;
  status: 'posted' | 'failed' | 'waiting';
  x_tweet_id: string | null;
  x_url: string | null;
  reason: string | null;
  received_at: number;
  text: string | null;
}

function toOutcome(row: OutcomeRow): OutcomeRecord {
  return {
    parcelId: row.parcel_id,
    tweetId: row.tweet_id,
    status: row.status,
    xTweetId: row.x_tweet_id,
    xUrl: row.x_url,
    reason: row.reason,
    receivedAt: new Date(row.received_at),
    text: row.text,
  };
}

export class AppStore {
  static open(dataDir: string): AppStore {
    ensurePrivateDirectory(dataDir);
    const path = join(dataDir, STORE_FILE_NAME);
    const db = openSqliteDatabase(path, {
      connect: (file) => new Database(file),
      schemaVersion: SCHEMA_VERSION,
      migrate(connection) {
        connection.exec(SCHEMA);
        widenChecks(connection);
      },
    });
    return new AppStore(db, path);
  }

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  // ---- outgoing tweets

  /** Record a tweet not yet acknowledged by the gateway: its text, and its parcel once made. */
  addQueuedTweet(tweet: {
    id: string;
    text: string;
    createdAt: Date;
    expiresAt: Date;
    parcelId?: string;
    parcel?: Buffer;
  }): void {
    this.db
      .prepare(
        `INSERT INTO outgoing_tweets (id, text, state, created_at, expires_at, parcel_id, parcel)
         VALUES (?, ?, 'queued', ?, ?, ?, ?)`,
      )
      .run(
        tweet.id,
        tweet.text,
        tweet.createdAt.getTime(),
        tweet.expiresAt.getTime(),
        tweet.parcelId ?? null,
        tweet.parcel ?? null,
      );
  }

  /** The parcel made for a queued tweet saved as text (its expiry is the parcel's). */
  setTweetParcel(id: string, made: { parcelId: string; parcel: Buffer; expiresAt: Date }): void {
    this.db
      .prepare(`UPDATE outgoing_tweets SET parcel_id = ?, parcel = ?, expires_at = ? WHERE id = ? AND state = 'queued'`)
      .run(made.parcelId, made.parcel, made.expiresAt.getTime(), id);
  }

  /** Queued tweets go back to text only: their parcels are made again (with a new certificate). */
  forgetQueuedParcels(): void {
    this.db.prepare(`UPDATE outgoing_tweets SET parcel_id = NULL, parcel = NULL WHERE state = 'queued'`).run();
  }

  /** Queued tweets not yet expired, oldest first, with their parcels (null: saved as text, no parcel yet). */
  listQueuedTweets(now: Date): Array<OutgoingTweet & { parcel: Buffer | null }> {
    const rows = this.db
      .prepare(`SELECT * FROM outgoing_tweets WHERE state = 'queued' AND expires_at > ? ORDER BY created_at, rowid`)
      .all(now.getTime()) as Array<OutgoingRow & { parcel: Buffer | null }>;
    return rows.map((row) => ({ ...toOutgoing(row), parcel: row.parcel }));
  }

  /** Queued tweets whose parcel expired before the gateway took it: failed. Returns them. */
  expireQueuedTweets(now: Date): OutgoingTweet[] {
    const rows = this.db
      .prepare(`SELECT * FROM outgoing_tweets WHERE state = 'queued' AND expires_at <= ?`)
      .all(now.getTime()) as OutgoingRow[];
    const update = this.db.prepare(
      `UPDATE outgoing_tweets SET state = 'failed', parcel = NULL, outcome_at = ?,
         failure_reason = 'expired before the user gateway took it' WHERE id = ? AND state = 'queued'`,
    );
    this.db.transaction(() => rows.forEach((row) => update.run(now.getTime(), row.id)))();
    return rows.map((row) => toOutgoing({ ...row, state: 'failed' }));
  }

  /** Tweets not answered yet (queued or sent) dated after `date`, oldest first. */
  listUnansweredTweetsDatedAfter(date: Date): OutgoingTweet[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM outgoing_tweets WHERE state IN ('queued', 'sent') AND created_at > ? ORDER BY created_at, rowid`,
      )
      .all(date.getTime()) as OutgoingRow[];
    return rows.map(toOutgoing);
  }

  /**
   * A new date for an unanswered tweet: queued again as text, keeping its parcel id (if it had a parcel) so that
   * the parcel made again replaces the old one. False if an outcome came meanwhile.
   */
  redateTweet(id: string, dates: { createdAt: Date; expiresAt: Date }): boolean {
    const result = this.db
      .prepare(
        `UPDATE outgoing_tweets SET state = 'queued', created_at = ?, expires_at = ?, parcel = NULL, sent_at = NULL
         WHERE id = ? AND state IN ('queued', 'sent')`,
      )
      .run(dates.createdAt.getTime(), dates.expiresAt.getTime(), id);
    return result.changes > 0;
  }

  /** The gateway acknowledged the tweet's parcel. Only moves a queued tweet (an outcome may have come first). */
  markTweetSent(id: string, at: Date): void {
    this.db
      .prepare(
        `UPDATE outgoing_tweets SET state = 'sent', parcel = NULL, sent_at = ? WHERE id = ? AND state = 'queued'`,
      )
      .run(at.getTime(), id);
  }

  getTweet(id: string): OutgoingTweet | null {
    const row = this.db.prepare(`SELECT * FROM outgoing_tweets WHERE id = ?`).get(id) as OutgoingRow | undefined;
    return row ? toOutgoing(row) : null;
  }

  /** Our tweet by its id or by the id of the parcel that carried it. */
  findTweet(ref: string): OutgoingTweet | null {
    const row = this.db.prepare(`SELECT * FROM outgoing_tweets WHERE id = ? OR parcel_id = ? LIMIT 1`).get(ref, ref) as
      OutgoingRow | undefined;
    return row ? toOutgoing(row) : null;
  }

  listTweets(limit = 50): OutgoingTweet[] {
    const rows = this.db
      .prepare(
        `SELECT t.*, CASE WHEN t.state IN ('queued', 'sent') THEN
             (SELECT o.reason FROM outcomes o WHERE o.tweet_id = t.id AND o.status = 'waiting' ORDER BY o.seq DESC LIMIT 1)
           END AS waiting_reason
         FROM outgoing_tweets t ORDER BY t.created_at DESC, t.rowid DESC LIMIT ?`,
      )
      .all(limit) as OutgoingRow[];
    return rows.map(toOutgoing);
  }

  countTweets(): StatusCounts {
    const counts: StatusCounts = { queued: 0, sent: 0, confirmed: 0, failed: 0 };
    const rows = this.db.prepare(`SELECT state, COUNT(*) AS n FROM outgoing_tweets GROUP BY state`).all() as Array<{
      state: TweetState;
      n: number;
    }>;
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  // ---- outcomes

  /**
   * Record the outcome of one of our tweets (idempotent by parcel id) and move the tweet to confirmed/failed.
   * Returns false if this outcome parcel was already recorded. A waiting one moves nothing, and is no news once
   * the tweet is final (it was overtaken on the way).
   */
  recordOutcome(outcome: Omit<OutcomeRecord, 'text'>): boolean {
    return this.db.transaction(() => {
      if (outcome.status === 'waiting') {
        const tweet = this.getTweet(outcome.tweetId);
        const final = tweet?.state === 'confirmed' || tweet?.state === 'failed';
        return (
          this.db
            .prepare(
              `INSERT OR IGNORE INTO outcomes (parcel_id, tweet_id, status, reason, received_at, shown)
               VALUES (?, ?, 'waiting', ?, ?, ?)`,
            )
            .run(outcome.parcelId, outcome.tweetId, outcome.reason, outcome.receivedAt.getTime(), final ? 1 : 0)
            .changes > 0
        );
      }
      const inserted = this.db
        .prepare(
          `INSERT OR IGNORE INTO outcomes (parcel_id, tweet_id, status, x_tweet_id, x_url, reason, received_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          outcome.parcelId,
          outcome.tweetId,
          outcome.status,
          outcome.xTweetId,
          outcome.xUrl,
          outcome.reason,
          outcome.receivedAt.getTime(),
        );
      if (inserted.changes === 0) return false;
      // A posted outcome wins over a failed one (e.g. a retry that succeeded); never go back from confirmed.
      if (outcome.status === 'posted') {
        this.db
          .prepare(
            `UPDATE outgoing_tweets SET state = 'confirmed', parcel = NULL, outcome_at = ?, x_tweet_id = ?, x_url = ?,
               failure_reason = NULL WHERE id = ?`,
          )
          .run(outcome.receivedAt.getTime(), outcome.xTweetId, outcome.xUrl, outcome.tweetId);
      } else {
        this.db
          .prepare(
            `UPDATE outgoing_tweets SET state = 'failed', parcel = NULL, outcome_at = ?, failure_reason = ?
               WHERE id = ? AND state != 'confirmed'`,
          )
          .run(outcome.receivedAt.getTime(), outcome.reason, outcome.tweetId);
      }
      return true;
    })();
  }

  /** Outcomes not shown yet, oldest first (with our tweet's text when known). */
  listUnshownOutcomes(): OutcomeRecord[] {
    const rows = this.db
      .prepare(
        `SELECT o.*, t.text AS text FROM outcomes o LEFT JOIN outgoing_tweets t ON t.id = o.tweet_id
         WHERE o.shown = 0 ORDER BY o.seq`,
      )
      .all() as OutcomeRow[];
    return rows.map(toOutcome);
  }

  markOutcomesShown(parcelIds: readonly string[]): void {
    const update = this.db.prepare(`UPDATE outcomes SET shown = 1 WHERE parcel_id = ?`);
    this.db.transaction(() => parcelIds.forEach((id) => update.run(id)))();
  }

  // ---- timeline

  /** Store timeline tweets (a repeat of a known tweet id is ignored). Returns how many were new. */
  addTimelineTweets(tweets: ReadonlyArray<Omit<TimelineTweet, 'receivedAt'>>, receivedAt: Date): number {
    const next = this.db.prepare(`SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM timeline_tweets`);
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO timeline_tweets (id, author_username, author_name, text, url, created_at, received_at, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Batches come newest first or oldest first depending on the sender: order by the tweet's date when known.
    const ordered = [...tweets].sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0));
    return this.db.transaction(() => {
      let added = 0;
      for (const tweet of ordered) {
        const { seq } = next.get() as { seq: number };
        added += insert.run(
          tweet.id,
          tweet.authorUsername,
          tweet.authorName,
          tweet.text,
          tweet.url,
          tweet.createdAt?.getTime() ?? null,
          receivedAt.getTime(),
          seq,
        ).changes;
      }
      return added;
    })();
  }

  /** Timeline tweets not shown yet, oldest first. */
  listUnshownTimeline(): TimelineTweet[] {
    return (this.db.prepare(`SELECT * FROM timeline_tweets WHERE shown = 0 ORDER BY seq`).all() as TimelineRow[]).map(
      toTimeline,
    );
  }

  /** The most recent tweets already shown, oldest first. */
  listRecentTimeline(limit: number): TimelineTweet[] {
    const rows = this.db
      .prepare(`SELECT * FROM timeline_tweets WHERE shown = 1 ORDER BY seq DESC LIMIT ?`)
      .all(limit) as TimelineRow[];
    return rows.reverse().map(toTimeline);
  }

  markTimelineShown(ids: readonly string[]): void {
    const update = this.db.prepare(`UPDATE timeline_tweets SET shown = 1 WHERE id = ?`);
    this.db.transaction(() => ids.forEach((id) => update.run(id)))();
  }

  countTimeline(): { total: number; unshown: number } {
    return this.db
      .prepare(`SELECT COUNT(*) AS total, COALESCE(SUM(shown = 0), 0) AS unshown FROM timeline_tweets`)
      .get() as { total: number; unshown: number };
  }

  // ---- subscription

  getSubscription(): SubscriptionRecord | null {
    const row = this.db.prepare(`SELECT * FROM subscription WHERE singleton = 1`).get() as
      | {
          adapter_id: string;
          endpoint_certificate_id: string;
          credentials_digest: string;
          pda_start: number;
          pda_expiry: number;
          parcel_id: string;
          sent_at: number;
        }
      | undefined;
    if (!row) return null;
    return {
      adapterId: row.adapter_id,
      endpointCertificateId: row.endpoint_certificate_id,
      credentialsDigest: row.credentials_digest,
      pdaStart: new Date(row.pda_start),
      pdaExpiry: new Date(row.pda_expiry),
      parcelId: row.parcel_id,
      sentAt: new Date(row.sent_at),
    };
  }

  /** A new subscription: what the adapter said about the previous one no longer applies. */
  saveSubscription(record: SubscriptionRecord): void {
    this.db.prepare(`DELETE FROM subscription_status`).run();
    this.db
      .prepare(
        `INSERT OR REPLACE INTO subscription
           (singleton, adapter_id, endpoint_certificate_id, credentials_digest, pda_start, pda_expiry, parcel_id, sent_at)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.adapterId,
        record.endpointCertificateId,
        record.credentialsDigest,
        record.pdaStart.getTime(),
        record.pdaExpiry.getTime(),
        record.parcelId,
        record.sentAt.getTime(),
      );
  }

  /** Keep what the adapter said about the subscription unless we hold a newer statement. Returns true if kept. */
  recordSubscriptionStatus(status: SubscriptionStatusRecord): boolean {
    const result = this.db
      .prepare(
        `INSERT INTO subscription_status (singleton, state, reason, http_status, date, received_at, shown)
         VALUES (1, ?, ?, ?, ?, ?, 0)
         ON CONFLICT (singleton) DO UPDATE SET state = excluded.state, reason = excluded.reason,
           http_status = excluded.http_status, date = excluded.date, received_at = excluded.received_at, shown = 0
         WHERE excluded.date >= subscription_status.date`,
      )
      .run(status.state, status.reason, status.httpStatus, status.date.getTime(), status.receivedAt.getTime());
    return result.changes > 0;
  }

  getSubscriptionStatus(): (SubscriptionStatusRecord & { shown: boolean }) | null {
    const row = this.db.prepare(`SELECT * FROM subscription_status WHERE singleton = 1`).get() as
      | {
          state: SubscriptionStatusRecord['state'];
          reason: string | null;
          http_status: number | null;
          date: number;
          received_at: number;
          shown: number;
        }
      | undefined;
    if (!row) return null;
    return {
      state: row.state,
      reason: row.reason,
      httpStatus: row.http_status,
      date: new Date(row.date),
      receivedAt: new Date(row.received_at),
      shown: row.shown === 1,
    };
  }

  markSubscriptionStatusShown(): void {
    this.db.prepare(`UPDATE subscription_status SET shown = 1`).run();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
