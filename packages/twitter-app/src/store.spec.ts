import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { AppStore, STORE_FILE_NAME } from './store';

describe('AppStore (SQLite in the data directory)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twitter-app-store-'));
  const dataDir = join(dir, 'app');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const t0 = new Date('2026-01-01T00:00:00Z');
  const later = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

  test('tweets move queued → sent → confirmed/failed, survive reopening, and are counted', () => {
    let store = AppStore.open(dataDir);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, STORE_FILE_NAME)).mode & 0o777).toBe(0o600);
    for (const id of ['a', 'b', 'c', 'd']) {
      store.addQueuedTweet({
        id,
        text: `tweet ${id}`,
        createdAt: t0,
        expiresAt: later(60),
        parcelId: `p-${id}`,
        parcel: Buffer.from(id),
      });
    }
    expect(store.listQueuedTweets(t0).map((t) => [t.id, t.parcel?.toString()])).toEqual([
      ['a', 'a'],
      ['b', 'b'],
      ['c', 'c'],
      ['d', 'd'],
    ]);
    store.markTweetSent('a', later(1));
    store.markTweetSent('b', later(1));
    store.markTweetSent('c', later(1));
    store.close();

    store = AppStore.open(dataDir);
    expect(store.countTweets()).toEqual({ queued: 1, sent: 3, confirmed: 0, failed: 0 });
    const posted = {
      tweetId: 'a',
      status: 'posted' as const,
      xTweetId: '123',
      xUrl: 'https://x.com/u/status/123',
      reason: null,
    };
    expect(store.recordOutcome({ ...posted, parcelId: 'o1', receivedAt: later(2) })).toBe(true);
    expect(store.recordOutcome({ ...posted, parcelId: 'o1', receivedAt: later(3) })).toBe(false); // same parcel again
    // The outcome may name the tweet's parcel rather than its id.
    expect(store.findTweet('p-b')?.id).toBe('b');
    store.recordOutcome({
      parcelId: 'o2',
      tweetId: 'b',
      status: 'failed',
      xTweetId: null,
      xUrl: null,
      reason: 'duplicate content',
      receivedAt: later(2),
    });
    // A failure never overrides a confirmation.
    store.recordOutcome({
      parcelId: 'o3',
      tweetId: 'a',
      status: 'failed',
      xTweetId: null,
      xUrl: null,
      reason: 'late',
      receivedAt: later(4),
    });
    expect(store.getTweet('a')).toMatchObject({ state: 'confirmed', xTweetId: '123', xUrl: posted.xUrl });
    expect(store.getTweet('b')).toMatchObject({ state: 'failed', failureReason: 'duplicate content' });
    // An expired queued tweet fails.
    expect(store.expireQueuedTweets(later(61)).map((t) => t.id)).toEqual(['d']);
    expect(store.countTweets()).toEqual({ queued: 0, sent: 1, confirmed: 1, failed: 2 });
    expect(store.listUnshownOutcomes().map((o) => [o.parcelId, o.text])).toEqual([
      ['o1', 'tweet a'],
      ['o2', 'tweet b'],
      ['o3', 'tweet a'],
    ]);
    store.markOutcomesShown(['o1', 'o2', 'o3']);
    expect(store.listUnshownOutcomes()).toEqual([]);
    store.close();
  });

  test('a tweet saved as text (no parcel yet) is queued in order; its parcel is added later, once', () => {
    const store = AppStore.open(join(dir, 'text-first'));
    store.addQueuedTweet({ id: 'e', text: 'typed before registration', createdAt: t0, expiresAt: later(60) });
    store.addQueuedTweet({
      id: 'f',
      text: 'with a parcel',
      createdAt: later(1),
      expiresAt: later(60),
      parcelId: 'p-f',
      parcel: Buffer.from('f'),
    });
    expect(store.listQueuedTweets(t0).map((t) => [t.id, t.parcelId, t.parcel])).toEqual([
      ['e', null, null],
      ['f', 'p-f', Buffer.from('f')],
    ]);
    store.setTweetParcel('e', { parcelId: 'p-e', parcel: Buffer.from('e'), expiresAt: later(59) });
    expect(store.listQueuedTweets(t0)[0]).toMatchObject({
      id: 'e',
      parcelId: 'p-e',
      parcel: Buffer.from('e'),
      expiresAt: later(59),
    });
    // Only a queued tweet gets a parcel.
    store.markTweetSent('e', later(2));
    store.setTweetParcel('e', { parcelId: 'p-e2', parcel: Buffer.from('x'), expiresAt: later(59) });
    expect(store.getTweet('e')).toMatchObject({ state: 'sent', parcelId: 'p-e' });
    store.close();
  });

  test('timeline tweets are kept once each, new ones until shown, then as recent ones', () => {
    const store = AppStore.open(dataDir);
    const tweet = (id: string, minutes: number) => ({
      id,
      authorUsername: `user${id}`,
      authorName: null,
      text: `text ${id}`,
      url: null,
      createdAt: later(minutes),
    });
    // Newest first, as the API lists them: stored oldest first.
    expect(store.addTimelineTweets([tweet('2', 2), tweet('1', 1)], later(5))).toBe(2);
    expect(store.addTimelineTweets([tweet('3', 3), tweet('2', 2)], later(6))).toBe(1);
    expect(store.listUnshownTimeline().map((t) => t.id)).toEqual(['1', '2', '3']);
    store.markTimelineShown(['1', '2']);
    expect(store.listUnshownTimeline().map((t) => t.id)).toEqual(['3']);
    expect(store.listRecentTimeline(1).map((t) => t.id)).toEqual(['2']);
    expect(store.countTimeline()).toEqual({ total: 3, unshown: 1 });
    store.close();
  });

  test("the adapter's latest word on the subscription is kept until a new subscription", () => {
    const store = AppStore.open(dataDir);
    const status = (state: 'active' | 'failed', minutes: number) => ({
      state,
      reason: state === 'failed' ? 'Unauthorized' : null,
      httpStatus: state === 'failed' ? 401 : null,
      date: later(minutes),
      receivedAt: later(100),
    });
    expect(store.recordSubscriptionStatus(status('failed', 10))).toBe(true);
    expect(store.recordSubscriptionStatus(status('active', 5))).toBe(false); // older: ignored
    expect(store.getSubscriptionStatus()).toMatchObject({ state: 'failed', httpStatus: 401, shown: false });
    store.markSubscriptionStatusShown();
    expect(store.getSubscriptionStatus()?.shown).toBe(true);
    store.saveSubscription({
      adapterId: 'a',
      endpointCertificateId: 'c',
      credentialsDigest: 'd',
      pdaStart: t0,
      pdaExpiry: later(1000),
      parcelId: 'p',
      sentAt: later(200),
    });
    expect(store.getSubscriptionStatus()).toBeNull();
    store.close();
  });

  test('the adapter waiting for the X API: the tweet stays sent but says why it waits, until its outcome', () => {
    const store = AppStore.open(join(dir, 'waiting'));
    store.addQueuedTweet({
      id: 'w',
      text: 'tweet w',
      createdAt: t0,
      expiresAt: later(60),
      parcelId: 'p-w',
      parcel: Buffer.from('w'),
    });
    store.markTweetSent('w', later(1));
    const reason = 'Network error: getaddrinfo ENOTFOUND api.x.com';
    const waiting = { tweetId: 'w', status: 'waiting' as const, xTweetId: null, xUrl: null, reason };
    expect(store.recordOutcome({ ...waiting, parcelId: 'ow', receivedAt: later(2) })).toBe(true);
    expect(store.countTweets()).toMatchObject({ sent: 1 });
    expect(store.listTweets()).toEqual([expect.objectContaining({ id: 'w', state: 'sent', waitingReason: reason })]);
    expect(store.listUnshownOutcomes()).toEqual([
      expect.objectContaining({ parcelId: 'ow', status: 'waiting', reason, text: 'tweet w' }),
    ]);
    store.markOutcomesShown(['ow']);

    store.recordOutcome({
      parcelId: 'op',
      tweetId: 'w',
      status: 'posted',
      xTweetId: '9',
      xUrl: null,
      reason: null,
      receivedAt: later(3),
    });
    expect(store.listTweets()).toEqual([expect.objectContaining({ state: 'confirmed', waitingReason: null })]);
    // A waiting word overtaken by the outcome on the way is no news.
    expect(store.recordOutcome({ ...waiting, parcelId: 'ow2', receivedAt: later(4) })).toBe(true);
    expect(store.listUnshownOutcomes().map((o) => o.parcelId)).toEqual(['op']);

    const status = { state: 'waiting' as const, reason, httpStatus: null, date: later(5), receivedAt: later(5) };
    expect(store.recordSubscriptionStatus(status)).toBe(true);
    expect(store.getSubscriptionStatus()).toMatchObject({ state: 'waiting', reason });
    store.close();
  });

  test("a store made before the 'waiting' state keeps its rows and takes the new state", () => {
    const oldDir = join(dir, 'before-waiting');
    mkdirSync(oldDir, { mode: 0o700 });
    // The two tables as the first release made them.
    const db = new Database(join(oldDir, STORE_FILE_NAME));
    db.exec(`
      CREATE TABLE outcomes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, parcel_id TEXT NOT NULL UNIQUE, tweet_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('posted', 'failed')), x_tweet_id TEXT, x_url TEXT, reason TEXT,
        received_at INTEGER NOT NULL, shown INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE subscription_status (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1), state TEXT NOT NULL CHECK (state IN ('active', 'failed')),
        reason TEXT, http_status INTEGER, date INTEGER NOT NULL, received_at INTEGER NOT NULL, shown INTEGER NOT NULL DEFAULT 0);
      INSERT INTO outcomes (parcel_id, tweet_id, status, reason, received_at) VALUES ('o1', 't', 'failed', 'gone', ${t0.getTime()});
      INSERT INTO subscription_status (singleton, state, date, received_at) VALUES (1, 'active', ${t0.getTime()}, ${t0.getTime()});
    `);
    expect(() => db.prepare(`UPDATE subscription_status SET state = 'waiting'`).run()).toThrow(/CHECK constraint/);
    db.close();

    const reopened = AppStore.open(oldDir);
    expect(reopened.listUnshownOutcomes()).toEqual([
      expect.objectContaining({ parcelId: 'o1', status: 'failed', reason: 'gone' }),
    ]);
    expect(reopened.getSubscriptionStatus()).toMatchObject({ state: 'active' });
    expect(
      reopened.recordSubscriptionStatus({
        state: 'waiting',
        reason: 'x',
        httpStatus: null,
        date: later(1),
        receivedAt: later(1),
      }),
    ).toBe(true);
    expect(
      reopened.recordOutcome({
        parcelId: 'o2',
        tweetId: 't',
        status: 'waiting',
        xTweetId: null,
        xUrl: null,
        reason: 'x',
        receivedAt: later(1),
      }),
    ).toBe(true);
    reopened.close();
  });
});
