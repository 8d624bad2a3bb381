/** The emulator's state in SQLite: accounts, who follows whom, and tweets. */
import Database from 'better-sqlite3';
import { openSqliteDatabase } from '@twitter-relaynet/core';

import { SEED_ACCOUNTS, type SeedAccount } from './seed';
import { SnowflakeGenerator } from './snowflake';

export interface User {
  readonly id: string;
  readonly username: string;
  readonly name: string;
  readonly createdAt: Date;
}

export interface Tweet {
  readonly id: string;
  readonly authorId: string;
  readonly text: string;
  readonly createdAt: Date;
}

interface UserRow {
  id: bigint;
  username: string;
  name: string;
  created_at: bigint;
}

interface TweetRow {
  id: bigint;
  author_id: bigint;
  text: string;
  created_at: bigint;
}

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT NOT NULL,
  is_me INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS follows (
  follower_id INTEGER NOT NULL REFERENCES users(id),
  followee_id INTEGER NOT NULL REFERENCES users(id),
  PRIMARY KEY (follower_id, followee_id)
);
CREATE TABLE IF NOT EXISTS tweets (
  id INTEGER PRIMARY KEY,
  author_id INTEGER NOT NULL REFERENCES users(id),
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tweets_by_author ON tweets (author_id, id);
`;

function toUser(row: UserRow): User {
  return { id: row.id.toString(), username: row.username, name: row.name, createdAt: new Date(Number(row.created_at)) };
}

function toTweet(row: TweetRow): Tweet {
  return {
    id: row.id.toString(),
    authorId: row.author_id.toString(),
    text: row.text,
    createdAt: new Date(Number(row.created_at)),
  };
}

export interface TimelinePageQuery {
  /** Only tweets with a greater id. */
  readonly sinceId?: bigint;
  /** Only tweets with a smaller id. */
  readonly untilId?: bigint;
  readonly limit: number;
}

export class Store {
  private readonly db: Database.Database;
  private readonly ids: SnowflakeGenerator;

  /** Open (creating if need be) the database at `path` (a file, or ":memory:"), seeding it on first use. */
  constructor(path: string, user: SeedAccount, now: () => number) {
    this.db = openSqliteDatabase(path, {
      connect: (file) => new Database(file),
      schemaVersion: SCHEMA_VERSION,
      migrate: (db) => db.exec(SCHEMA),
    });
    this.db.defaultSafeIntegers(true);
    const maxId = (this.db.prepare('SELECT MAX(id) AS id FROM tweets').get() as { id: bigint | null }).id;
    this.ids = new SnowflakeGenerator(maxId ?? 0n);
    if (this.me() === undefined) this.seed(user, now());
  }

  close(): void {
    this.db.close();
  }

  private seed(user: SeedAccount, nowMs: number): void {
    const insertUser = this.db.prepare(
      'INSERT INTO users (id, username, name, is_me, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    const insertFollow = this.db.prepare('INSERT INTO follows (follower_id, followee_id) VALUES (?, ?)');
    this.db.transaction(() => {
      const accountCreation = BigInt(nowMs - 30 * 24 * 3600_000);
      insertUser.run(BigInt(user.id), user.username, user.name, 1, accountCreation);
      // Interleave the accounts' tweets (round robin) over the last few hours, oldest first so ids follow time.
      const seeded = SEED_ACCOUNTS.filter(
        (a) => a.id !== user.id && a.username.toLowerCase() !== user.username.toLowerCase(),
      );
      const ordered: Array<{ authorId: bigint; text: string }> = [];
      for (const account of seeded) {
        insertUser.run(BigInt(account.id), account.username, account.name, 0, accountCreation);
        if (account.followed) insertFollow.run(BigInt(user.id), BigInt(account.id));
      }
      const rounds = Math.max(...seeded.map((a) => a.tweets.length));
      for (let round = 0; round < rounds; round++) {
        for (const account of seeded) {
          if (round < account.tweets.length)
            ordered.push({ authorId: BigInt(account.id), text: account.tweets[round] });
        }
      }
      ordered.forEach((tweet, index) => {
        const createdAt = nowMs - (ordered.length - index) * 17 * 60_000;
        this.insertTweet(tweet.authorId, tweet.text, createdAt);
      });
    })();
  }

  private insertTweet(authorId: bigint, text: string, createdAtMs: number): Tweet {
    const id = this.ids.next(createdAtMs);
    const createdAt = BigInt(Math.floor(createdAtMs));
    this.db
      .prepare('INSERT INTO tweets (id, author_id, text, created_at) VALUES (?, ?, ?, ?)')
      .run(id, authorId, text, createdAt);
    return toTweet({ id, author_id: authorId, text, created_at: createdAt });
  }

  me(): User | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE is_me = 1').get() as UserRow | undefined;
    return row && toUser(row);
  }

  users(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY is_me DESC, id').all() as UserRow[]).map(toUser);
  }

  userById(id: string): User | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(BigInt(id)) as UserRow | undefined;
    return row && toUser(row);
  }

  userByUsername(username: string): User | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    return row && toUser(row);
  }

  /** Accounts that `userId` follows. */
  following(userId: string): User[] {
    const rows = this.db
      .prepare('SELECT u.* FROM follows f JOIN users u ON u.id = f.followee_id WHERE f.follower_id = ? ORDER BY u.id')
      .all(BigInt(userId)) as UserRow[];
    return rows.map(toUser);
  }

  createTweet(authorId: string, text: string, nowMs: number): Tweet {
    return this.insertTweet(BigInt(authorId), text, nowMs);
  }

  /** Whether `authorId` already posted exactly this text. */
  isDuplicate(authorId: string, text: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM tweets WHERE author_id = ? AND text = ? LIMIT 1').get(BigInt(authorId), text) !==
      undefined
    );
  }

  tweetById(id: string): Tweet | undefined {
    const row = this.db.prepare('SELECT * FROM tweets WHERE id = ?').get(BigInt(id)) as TweetRow | undefined;
    return row && toTweet(row);
  }

  /** Tweets by `authorId`, newest first. */
  tweetsBy(authorId: string, limit: number): Tweet[] {
    const rows = this.db
      .prepare('SELECT * FROM tweets WHERE author_id = ? ORDER BY id DESC LIMIT ?')
      .all(BigInt(authorId), limit) as TweetRow[];
    return rows.map(toTweet);
  }

  /** The home timeline of `userId` (their tweets and those of the accounts they follow), newest first. */
  homeTimeline(userId: string, query: TimelinePageQuery): Tweet[] {
    const rows = this.db
      .prepare(
        `SELECT t.* FROM tweets t
         WHERE (t.author_id = :user OR t.author_id IN (SELECT followee_id FROM follows WHERE follower_id = :user))
           AND t.id > :since AND t.id < :until
         ORDER BY t.id DESC LIMIT :limit`,
      )
      .all({
        user: BigInt(userId),
        since: query.sinceId ?? 0n,
        until: query.untilId ?? 0x7fffffffffffffffn,
        limit: BigInt(query.limit),
      }) as TweetRow[];
    return rows.map(toTweet);
  }
}
