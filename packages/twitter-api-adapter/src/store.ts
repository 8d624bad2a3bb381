/**
 * The adapter's durable state (`adapter.sqlite` next to the endpoint's database; WAL, synchronous=FULL, 0600):
 * tweets received (keyed by (sender id, Tweet.id): a repeat never posts twice) with their posting state and
 * outcome, subscriptions (PDA, the user's credentials, since_id), rate-limit resets per user and endpoint, and
 * which X user each access token belongs to (keyed by a digest of the token, never the token itself).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- SQLite rows are untyped; toTweet and toSubscription are where they get their types */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { openSqliteDatabase } from '@twitter-relaynet/core';
import { ensurePrivateDirectory } from '@twitter-relaynet/endpoint';

export const ADAPTER_DATABASE_FILE = 'adapter.sqlite';
const SCHEMA_VERSION = 1;

export type TweetState = 'pending' | 'posting' | 'posted' | 'failed';

export interface TweetRecord {
  readonly senderId: string;
  readonly tweetId: string;
  readonly parcelId: string;
  readonly text: string;
  readonly accessToken: string;
  readonly accessSecret: string;
  readonly gatewayAddress: string | null;
  readonly state: TweetState;
  readonly attempts: number;
  readonly nextAttempt: Date;
  readonly xTweetId: string | null;
  readonly url: string | null;
  readonly reason: string | null;
  readonly httpStatus: number | null;
  readonly outcomeDate: Date | null;
  readonly outcomeSent: boolean;
  /** The app was told the tweet waits for the X API (a TweetOutcome WAITING). */
  readonly waitingSent: boolean;
  readonly received: Date;
}

export type SubscriptionState = 'active' | 'failed';

export interface SubscriptionRecord {
  readonly senderId: string;
  readonly deliveryAuthorization: Buffer;
  readonly pdaExpiry: Date;
  readonly accessToken: string;
  readonly accessSecret: string;
  readonly gatewayAddress: string | null;
  readonly creationDate: Date;
  readonly state: SubscriptionState;
  readonly reason: string | null;
  readonly userId: string | null;
  readonly username: string | null;
  readonly sinceId: string | null;
  readonly nextSync: Date;
  readonly attempts: number;
  /** The state last sent to the app in a SubscriptionStatus (null: none yet for this subscription). */
  readonly reportedState: ReportedSubscriptionState | null;
  /** How many SubscriptionStatus messages were sent to this sender (names each one's parcel). */
  readonly statusSeq: number;
}

export type ReportedSubscriptionState = 'active' | 'failed' | 'waiting';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tweets (
  sender_id TEXT NOT NULL,
  tweet_id TEXT NOT NULL,
  parcel_id TEXT NOT NULL,
  text TEXT NOT NULL,
  access_token TEXT NOT NULL,
  access_secret TEXT NOT NULL,
  gateway_address TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  x_tweet_id TEXT,
  url TEXT,
  reason TEXT,
  http_status INTEGER,
  outcome_date INTEGER,
  outcome_sent INTEGER NOT NULL DEFAULT 0,
  waiting_sent INTEGER NOT NULL DEFAULT 0,
  received INTEGER NOT NULL,
  PRIMARY KEY (sender_id, tweet_id)
);
CREATE INDEX IF NOT EXISTS tweets_due ON tweets (state, next_attempt);
CREATE TABLE IF NOT EXISTS subscriptions (
  sender_id TEXT PRIMARY KEY,
  delivery_authorization BLOB NOT NULL,
  pda_expiry INTEGER NOT NULL,
  access_token TEXT NOT NULL,
  access_secret TEXT NOT NULL,
  gateway_address TEXT,
  creation_date INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT,
  user_id TEXT,
  username TEXT,
  since_id TEXT,
  next_sync INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  reported_state TEXT,
  status_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS x_users (
  token_digest TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  username TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_limits (
  access_token TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  reset_at INTEGER NOT NULL,
  PRIMARY KEY (access_token, endpoint)
);
`;

/** A token's owner never changes, so its digest is a safe key that keeps no secret once the tweet is final. */
function tokenDigest(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('hex');
}

/** Columns added since the first release: a database made before gets them (CREATE TABLE IF NOT EXISTS would not). */
const ADDED_COLUMNS: ReadonlyArray<readonly [table: string, column: string, definition: string]> = [
  ['tweets', 'waiting_sent', 'INTEGER NOT NULL DEFAULT 0'],
  ['subscriptions', 'reported_state', 'TEXT'],
  ['subscriptions', 'status_seq', 'INTEGER NOT NULL DEFAULT 0'],
];

function addMissingColumns(db: Database.Database): void {
  for (const [table, column, definition] of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
    if (!columns.some((existing) => existing.name === column))
      db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}

function date(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

function toTweet(row: any): TweetRecord {
  return {
    senderId: row.sender_id,
    tweetId: row.tweet_id,
    parcelId: row.parcel_id,
    text: row.text,
    accessToken: row.access_token,
    accessSecret: row.access_secret,
    gatewayAddress: row.gateway_address,
    state: row.state,
    attempts: row.attempts,
    nextAttempt: new Date(row.next_attempt),
    xTweetId: row.x_tweet_id,
    url: row.url,
    reason: row.reason,
    httpStatus: row.http_status,
    outcomeDate: date(row.outcome_date),
    outcomeSent: row.outcome_sent === 1,
    waitingSent: row.waiting_sent === 1,
    received: new Date(row.received),
  };
}

function toSubscription(row: any): SubscriptionRecord {
  return {
    senderId: row.sender_id,
    deliveryAuthorization: row.delivery_authorization,
    pdaExpiry: new Date(row.pda_expiry),
    accessToken: row.access_token,
    accessSecret: row.access_secret,
    gatewayAddress: row.gateway_address,
    creationDate: new Date(row.creation_date),
    state: row.state,
    reason: row.reason,
    userId: row.user_id,
    username: row.username,
    sinceId: row.since_id,
    nextSync: new Date(row.next_sync),
    attempts: row.attempts,
    reportedState: row.reported_state,
    statusSeq: row.status_seq,
  };
}

export class AdapterStore {
  static open(dataDir: string): AdapterStore {
    ensurePrivateDirectory(dataDir);
    const path = join(dataDir, ADAPTER_DATABASE_FILE);
    const db = openSqliteDatabase(path, {
      connect: (file) => new Database(file),
      // Version 1 is the first with a number: databases from before it are at 0 and gain their missing columns.
      schemaVersion: SCHEMA_VERSION,
      migrate(connection) {
        connection.exec(SCHEMA);
        addMissingColumns(connection);
      },
    });
    return new AdapterStore(db);
  }

  private constructor(private readonly db: Database.Database) {}

  // Tweets ---------------------------------------------------------------------------------------------------------

  /** Record a tweet to post; false if (sender, tweet id) is already known (a repeat). */
  addTweet(tweet: {
    senderId: string;
    tweetId: string;
    parcelId: string;
    text: string;
    accessToken: string;
    accessSecret: string;
    gatewayAddress: string | null;
    received: Date;
  }): boolean {
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO tweets (sender_id, tweet_id, parcel_id, text, access_token, access_secret, gateway_address,
           state, next_attempt, received)
         VALUES (@senderId, @tweetId, @parcelId, @text, @accessToken, @accessSecret, @gatewayAddress, 'pending', @now, @now)`,
      )
      .run({ ...tweet, now: tweet.received.getTime() });
    return result.changes === 1;
  }

  getTweet(senderId: string, tweetId: string): TweetRecord | null {
    const row = this.db.prepare('SELECT * FROM tweets WHERE sender_id = ? AND tweet_id = ?').get(senderId, tweetId);
    return row ? toTweet(row) : null;
  }

  listTweets(): TweetRecord[] {
    return this.db.prepare('SELECT * FROM tweets ORDER BY received, rowid').all().map(toTweet);
  }

  /** Tweets to post (or to recover, state 'posting') whose next attempt is due. */
  dueTweets(now: Date): TweetRecord[] {
    return this.db
      .prepare(
        `SELECT * FROM tweets WHERE state IN ('pending', 'posting') AND next_attempt <= ? ORDER BY received, rowid`,
      )
      .all(now.getTime())
      .map(toTweet);
  }

  /** Before calling the API: from here on a crash leaves 'posting', which is checked through the API on recovery. */
  markPosting(tweet: TweetRecord): void {
    this.db
      .prepare(`UPDATE tweets SET state = 'posting' WHERE sender_id = ? AND tweet_id = ?`)
      .run(tweet.senderId, tweet.tweetId);
  }

  /**
   * Retry later, in `state` ('posting' when the API may have posted it, 'pending' when it certainly did not).
   * `countAttempt`: a failed attempt that makes the next backoff longer (network errors; not rate limits). It is
   * counted here, not when posting starts, so that failures while looking for an interrupted attempt count too.
   */
  scheduleRetry(
    tweet: TweetRecord,
    state: 'pending' | 'posting',
    nextAttempt: Date,
    reason: string,
    countAttempt: boolean,
  ): void {
    this.db
      .prepare(
        `UPDATE tweets SET state = ?, next_attempt = ?, reason = ?, attempts = attempts + ? WHERE sender_id = ? AND tweet_id = ?`,
      )
      .run(state, nextAttempt.getTime(), reason, countAttempt ? 1 : 0, tweet.senderId, tweet.tweetId);
  }

  /** Final: posted. The user's credentials are no longer needed and are erased. */
  markPosted(tweet: TweetRecord, xTweetId: string, url: string, now: Date): void {
    this.db
      .prepare(
        `UPDATE tweets SET state = 'posted', x_tweet_id = ?, url = ?, reason = NULL, http_status = NULL, outcome_date = ?,
           access_token = '', access_secret = '' WHERE sender_id = ? AND tweet_id = ?`,
      )
      .run(xTweetId, url, now.getTime(), tweet.senderId, tweet.tweetId);
  }

  markFailed(tweet: TweetRecord, reason: string, httpStatus: number, now: Date): void {
    this.db
      .prepare(
        `UPDATE tweets SET state = 'failed', reason = ?, http_status = ?, outcome_date = ?, access_token = '', access_secret = ''
         WHERE sender_id = ? AND tweet_id = ?`,
      )
      .run(reason, httpStatus, now.getTime(), tweet.senderId, tweet.tweetId);
  }

  /** Final tweets whose outcome has not been handed to the endpoint's outbox yet. */
  unsentOutcomes(): TweetRecord[] {
    return this.db
      .prepare(
        `SELECT * FROM tweets WHERE state IN ('posted', 'failed') AND outcome_sent = 0 ORDER BY outcome_date, rowid`,
      )
      .all()
      .map(toTweet);
  }

  /** Tweets not posted yet after `attempts` failed attempts whose app has not been told they wait. */
  unreportedWaitingTweets(attempts: number): TweetRecord[] {
    return this.db
      .prepare(
        `SELECT * FROM tweets WHERE state IN ('pending', 'posting') AND waiting_sent = 0 AND attempts >= ? ORDER BY received, rowid`,
      )
      .all(attempts)
      .map(toTweet);
  }

  markWaitingSent(tweet: TweetRecord): void {
    this.db
      .prepare('UPDATE tweets SET waiting_sent = 1 WHERE sender_id = ? AND tweet_id = ?')
      .run(tweet.senderId, tweet.tweetId);
  }

  markOutcomeSent(tweet: TweetRecord): void {
    this.db
      .prepare('UPDATE tweets SET outcome_sent = 1 WHERE sender_id = ? AND tweet_id = ?')
      .run(tweet.senderId, tweet.tweetId);
  }

  // Subscriptions --------------------------------------------------------------------------------------------------

  getSubscription(senderId: string): SubscriptionRecord | null {
    const row = this.db.prepare('SELECT * FROM subscriptions WHERE sender_id = ?').get(senderId);
    return row ? toSubscription(row) : null;
  }

  listSubscriptions(): SubscriptionRecord[] {
    return this.db.prepare('SELECT * FROM subscriptions ORDER BY sender_id').all().map(toSubscription);
  }

  /**
   * Store a subscription unless a newer one is stored; keeps since_id (and the user's id) when the access token
   * is the same. Returns false if it was older than the stored one.
   */
  upsertSubscription(subscription: {
    senderId: string;
    deliveryAuthorization: Buffer;
    pdaExpiry: Date;
    accessToken: string;
    accessSecret: string;
    gatewayAddress: string | null;
    creationDate: Date;
    nextSync: Date;
  }): boolean {
    return this.db.transaction(() => {
      const existing = this.getSubscription(subscription.senderId);
      if (existing && existing.creationDate.getTime() > subscription.creationDate.getTime()) return false;
      const sameUser = existing !== null && existing.accessToken === subscription.accessToken;
      this.db
        .prepare(
          `INSERT OR REPLACE INTO subscriptions (sender_id, delivery_authorization, pda_expiry, access_token, access_secret,
             gateway_address, creation_date, state, reason, user_id, username, since_id, next_sync, attempts, reported_state,
             status_seq)
           VALUES (@senderId, @deliveryAuthorization, @pdaExpiry, @accessToken, @accessSecret, @gatewayAddress, @creationDate,
             'active', NULL, @userId, @username, @sinceId, @nextSync, 0, NULL, @statusSeq)`,
        )
        .run({
          ...subscription,
          pdaExpiry: subscription.pdaExpiry.getTime(),
          creationDate: subscription.creationDate.getTime(),
          nextSync: subscription.nextSync.getTime(),
          userId: sameUser ? existing!.userId : null,
          username: sameUser ? existing!.username : null,
          sinceId: sameUser ? existing!.sinceId : null,
          statusSeq: existing?.statusSeq ?? 0,
        });
      return true;
    })();
  }

  setSubscriptionUser(senderId: string, userId: string, username: string): void {
    this.db
      .prepare('UPDATE subscriptions SET user_id = ?, username = ? WHERE sender_id = ?')
      .run(userId, username, senderId);
  }

  /** After a successful sync (the batches are in the endpoint's outbox): advance since_id. */
  completeSync(senderId: string, sinceId: string | null, nextSync: Date): void {
    this.db
      .prepare(
        'UPDATE subscriptions SET since_id = COALESCE(?, since_id), next_sync = ?, attempts = 0, reason = NULL WHERE sender_id = ?',
      )
      .run(sinceId, nextSync.getTime(), senderId);
  }

  postponeSync(senderId: string, nextSync: Date, reason: string, countAttempt: boolean): void {
    this.db
      .prepare(`UPDATE subscriptions SET next_sync = ?, reason = ?, attempts = attempts + ? WHERE sender_id = ?`)
      .run(nextSync.getTime(), reason, countAttempt ? 1 : 0, senderId);
  }

  /** A SubscriptionStatus in `state`, number `seq`, is in the endpoint's outbox. */
  markStatusReported(senderId: string, state: ReportedSubscriptionState, seq: number): void {
    this.db
      .prepare('UPDATE subscriptions SET reported_state = ?, status_seq = ? WHERE sender_id = ?')
      .run(state, seq, senderId);
  }

  failSubscription(senderId: string, reason: string): void {
    this.db.prepare(`UPDATE subscriptions SET state = 'failed', reason = ? WHERE sender_id = ?`).run(reason, senderId);
  }

  // X users ------------------------------------------------------------------------------------------------------

  /**
   * Who an access token belongs to (GET /2/users/me), remembered so that it is asked once per token: users/me
   * allows 75 requests per 15 minutes, and the recovery of an interrupted post cannot do without it.
   */
  rememberUser(accessToken: string, userId: string, username: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO x_users (token_digest, user_id, username) VALUES (?, ?, ?)')
      .run(tokenDigest(accessToken), userId, username);
  }

  knownUser(accessToken: string): { id: string; username: string } | null {
    const row = this.db
      .prepare('SELECT user_id, username FROM x_users WHERE token_digest = ?')
      .get(tokenDigest(accessToken)) as { user_id: string; username: string } | undefined;
    return row ? { id: row.user_id, username: row.username } : null;
  }

  // Rate limits ----------------------------------------------------------------------------------------------------

  setRateLimitReset(accessToken: string, endpoint: string, resetAt: Date): void {
    this.db
      .prepare('INSERT OR REPLACE INTO rate_limits (access_token, endpoint, reset_at) VALUES (?, ?, ?)')
      .run(accessToken, endpoint, resetAt.getTime());
  }

  /** When calls to `endpoint` with this token may resume, if that is after `now`. */
  getRateLimitReset(accessToken: string, endpoint: string, now: Date): Date | null {
    const row = this.db
      .prepare('SELECT reset_at FROM rate_limits WHERE access_token = ? AND endpoint = ?')
      .get(accessToken, endpoint) as { reset_at: number } | undefined;
    if (!row) return null;
    if (row.reset_at <= now.getTime()) {
      this.db.prepare('DELETE FROM rate_limits WHERE access_token = ? AND endpoint = ?').run(accessToken, endpoint);
      return null;
    }
    return new Date(row.reset_at);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
