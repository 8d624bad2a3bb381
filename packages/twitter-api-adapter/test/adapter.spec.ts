/**
 * The adapter against the real X API emulator over HTTP (twitter-api-v2), with a real app-side private endpoint
 * decrypting what it sends back. Deterministic: no timers (workIntervalMs 0, runOnce()), one ManualClock.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { createEmulatorClient, DEFAULT_USER, DUPLICATE_CONTENT_DETAIL } from '@twitter-relaynet/x-api-emulator';

import { otherApp, otherPublicEndpoint, RETRY, World } from './world';

jest.setTimeout(30_000);

let world: World;
afterEach(async () => {
  await world?.close();
});

function outcomes(messages: Awaited<ReturnType<World['collect']>>) {
  return messages.flatMap((m) => (m.kind === 'tweetOutcome' ? [m.message] : []));
}

function timelineTweets(messages: Awaited<ReturnType<World['collect']>>) {
  return messages.flatMap((m) => (m.kind === 'timelineUpdateBatch' ? [...m.message.tweets] : []));
}

/** The user's own tweets with this text, as the emulator holds them. */
async function postedWithText(text: string): Promise<string[]> {
  const client = createEmulatorClient(world.emulator.url, world.emulator.credentials);
  const page = await client.v2.get<{ data?: Array<{ id: string; text: string; author_id?: string }> }>(
    `users/${DEFAULT_USER.id}/timelines/reverse_chronological`,
    {
      max_results: 100,
      'tweet.fields': 'author_id',
    },
  );
  return (page.data ?? []).filter((t) => t.text === text && t.author_id === DEFAULT_USER.id).map((t) => t.id);
}

describe('posting', () => {
  test('a tweet is posted through the X API and its outcome (id and URL) goes back to the app', async () => {
    world = await World.create();
    await world.subscribe();
    await world.adapter.runOnce(); // first sync: learns the username
    const first = await world.collect();
    expect(first.map((m) => m.kind)).toEqual(['subscriptionStatus', 'timelineUpdateBatch']);

    const { id, parcel, outcome } = await world.tweet('Hello from the sneakernet');
    expect(outcome.status).toBe('accepted');
    await world.adapter.runOnce();

    const ids = await postedWithText('Hello from the sneakernet');
    expect(ids).toHaveLength(1);
    const [result] = outcomes(await world.collect());
    expect(result).toMatchObject({
      tweetId: id,
      parcelId: parcel.parcelId,
      status: 'posted',
      xTweetId: ids[0],
      url: `https://x.com/${DEFAULT_USER.username}/status/${ids[0]}`,
    });
    // The user's credentials are not kept once the tweet is final.
    expect(world.adapter.store.getTweet(world.app.id, id)).toMatchObject({
      state: 'posted',
      accessToken: '',
      accessSecret: '',
    });
  });

  test("a tweet posted before the first timeline sync still gets the user's URL (asked of users/me)", async () => {
    world = await World.create();
    await world.subscribe();
    const { id } = await world.tweet('Before any sync');
    await world.adapter.runOnce();
    const [posted] = await postedWithText('Before any sync');
    const [result] = outcomes(await world.collect());
    expect(result).toMatchObject({
      tweetId: id,
      status: 'posted',
      url: `https://x.com/${DEFAULT_USER.username}/status/${posted}`,
    });
    expect(world.adapter.store.getSubscription(world.app.id)).toMatchObject({ username: DEFAULT_USER.username });
  });

  test('the outcome waits for a subscription (its PDA) when the tweet comes first', async () => {
    world = await World.create();
    const { id } = await world.tweet('Before subscribing');
    await world.adapter.runOnce();
    expect(await postedWithText('Before subscribing')).toHaveLength(1);
    expect(await world.collect()).toEqual([]);

    await world.subscribe();
    await world.adapter.runOnce();
    expect(outcomes(await world.collect())).toEqual([expect.objectContaining({ tweetId: id, status: 'posted' })]);
  });

  test('duplicate content: X refuses it (403) and the app gets a failed outcome with the reason', async () => {
    world = await World.create();
    await world.subscribe();
    const client = createEmulatorClient(world.emulator.url, world.emulator.credentials);
    await client.v2.tweet('Said it already');

    const { id } = await world.tweet('Said it already');
    await world.adapter.runOnce();

    const [result] = outcomes(await world.collect());
    expect(result).toMatchObject({ tweetId: id, status: 'failed', httpStatus: 403 });
    expect(result.reason).toContain(DUPLICATE_CONTENT_DETAIL);
    expect(await postedWithText('Said it already')).toHaveLength(1);
    expect(world.postRequests()).toEqual(['201 POST /2/tweets', '403 POST /2/tweets']);
  });

  test('bad credentials: 401, a failed outcome, and no retry', async () => {
    world = await World.create();
    await world.subscribe();
    const { id } = await world.tweet('With a revoked token', {
      credentials: { accessToken: 'revoked', accessSecret: 'nope' },
    });
    await world.adapter.runOnce();

    const [result] = outcomes(await world.collect());
    expect(result).toMatchObject({ tweetId: id, status: 'failed', httpStatus: 401 });
    world.clock.advance(RETRY.maxDelayMs * 10);
    await world.adapter.runOnce();
    expect(world.postRequests()).toEqual(['401 POST /2/tweets']);
  });

  test('rate limited (429): nothing is retried before the reset, then the tweet is posted', async () => {
    world = await World.create({ rateLimits: { 'POST /2/tweets': 1 } });
    await world.subscribe();
    await world.tweet('First of the window');
    await world.adapter.runOnce();
    const { id } = await world.tweet('Second of the window');
    await world.adapter.runOnce();
    expect(world.postRequests()).toEqual(['201 POST /2/tweets', '429 POST /2/tweets']);
    const waiting = world.adapter.store.getTweet(world.app.id, id)!;
    expect(waiting.state).toBe('pending');
    const resetAt = waiting.nextAttempt.getTime();
    expect(resetAt).toBeGreaterThan(world.clock.now().getTime() + RETRY.maxDelayMs); // the window's reset, not a backoff

    // Up to the reset: no request at all, however often the adapter looks.
    world.clock.set(new Date(resetAt - 1000));
    await world.adapter.runOnce();
    await world.adapter.runOnce();
    expect(world.postRequests()).toHaveLength(2);

    world.clock.set(new Date(resetAt + 1000));
    await world.adapter.runOnce();
    expect(world.postRequests()).toEqual(['201 POST /2/tweets', '429 POST /2/tweets', '201 POST /2/tweets']);
    expect(await postedWithText('Second of the window')).toHaveLength(1);
    const results = outcomes(await world.collect());
    expect(results.map((r) => r.status)).toEqual(['posted', 'posted']);
  });

  test('network errors: retried with a growing backoff; posted once, when the API is back', async () => {
    world = await World.create();
    await world.subscribe();
    await world.adapter.runOnce();
    await world.collect();
    await world.emulator.close();

    const { id } = await world.tweet('Through the outage');
    await world.adapter.runOnce();
    let record = world.adapter.store.getTweet(world.app.id, id)!;
    expect(record).toMatchObject({ state: 'posting', attempts: 1 });
    expect(record.nextAttempt.getTime() - world.clock.now().getTime()).toBe(RETRY.initialDelayMs);

    world.clock.advance(RETRY.initialDelayMs);
    await world.adapter.runOnce();
    record = world.adapter.store.getTweet(world.app.id, id)!;
    expect(record).toMatchObject({ state: 'posting', attempts: 2 });
    expect(record.nextAttempt.getTime() - world.clock.now().getTime()).toBe(2 * RETRY.initialDelayMs);
    expect(record.reason).toMatch(/^Network error: .*ECONNREFUSED/);

    await world.startEmulator(); // same port, same database
    await world.adapter.runOnce(); // not due yet
    expect(world.postRequests()).toEqual([]);
    world.clock.advance(2 * RETRY.initialDelayMs);
    await world.adapter.runOnce();
    expect(world.postRequests()).toEqual(['201 POST /2/tweets']);
    expect(await postedWithText('Through the outage')).toHaveLength(1);
    expect(outcomes(await world.collect())).toEqual([expect.objectContaining({ tweetId: id, status: 'posted' })]);
  });
});

describe('exactly once', () => {
  test('a repeated Tweet parcel, or the same Tweet in a new parcel, never posts twice', async () => {
    world = await World.create();
    await world.subscribe();
    const { id, parcel } = await world.tweet('Only once');
    const again = await world.adapter.endpoint.receiveParcel(parcel.parcel, { gatewayAddress: null });
    expect(again.status).toBe('duplicate');
    await world.adapter.runOnce();
    // The app sends the same Tweet again in a new parcel (it never saw the acknowledgement).
    const resent = await world.tweet('Only once', { id });
    expect(resent.outcome.status).toBe('accepted');
    await world.adapter.runOnce();
    world.clock.advance(3_600_000);
    await world.adapter.runOnce();

    expect(world.postRequests()).toEqual(['201 POST /2/tweets']);
    expect(await postedWithText('Only once')).toHaveLength(1);
    expect(outcomes(await world.collect())).toHaveLength(1);
  });

  test('a restart after X posted it but before the adapter recorded it: found, not posted again', async () => {
    world = await World.create();
    await world.subscribe();
    const { id } = await world.tweet('Posted just before the crash');
    // The crash: the tweet was marked 'posting' and X posted it, but the adapter died before recording the result.
    world.adapter.store.markPosting(world.adapter.store.getTweet(world.app.id, id)!);
    const client = createEmulatorClient(world.emulator.url, world.emulator.credentials);
    const posted = await client.v2.tweet('Posted just before the crash');
    await world.restartAdapter();

    await world.adapter.runOnce();
    expect(await postedWithText('Posted just before the crash')).toEqual([posted.data.id]);
    expect(world.postRequests()).toEqual(['201 POST /2/tweets']); // only the one made before the crash
    expect(outcomes(await world.collect())).toEqual([
      expect.objectContaining({ tweetId: id, status: 'posted', xTweetId: posted.data.id }),
    ]);
  });

  test('a restart while posting, when X never got it: posted once', async () => {
    world = await World.create();
    await world.subscribe();
    const { id } = await world.tweet('Lost in the crash');
    world.adapter.store.markPosting(world.adapter.store.getTweet(world.app.id, id)!);
    await world.restartAdapter();

    await world.adapter.runOnce();
    await world.adapter.runOnce();
    expect(world.postRequests()).toEqual(['201 POST /2/tweets']);
    expect(await postedWithText('Lost in the crash')).toHaveLength(1);
    expect(world.adapter.store.getTweet(world.app.id, id)!.state).toBe('posted');
  });

  test('an interrupted post is looked for at once after many posts: users/me is asked once per token, not per tweet', async () => {
    // Found by the kill -9 campaign (a tweet never posted): every posted tweet spent a users/me request on its URL;
    // once the window's were spent, the post interrupted by the kill could not be looked for until the reset.
    world = await World.create({ rateLimits: { 'GET /2/users/me': 2 } });
    for (let i = 0; i < 3; i += 1) {
      await world.tweet(`Posted before the crash, number ${i}`);
      await world.adapter.runOnce();
    }
    const { id } = await world.tweet('Interrupted by the crash');
    world.adapter.store.markPosting(world.adapter.store.getTweet(world.app.id, id)!);
    await world.restartAdapter();

    await world.adapter.runOnce();
    const [posted] = await postedWithText('Interrupted by the crash');
    expect(world.adapter.store.getTweet(world.app.id, id)).toMatchObject({
      state: 'posted',
      url: `https://x.com/${DEFAULT_USER.username}/status/${posted}`,
    });
    expect(world.requestsTo('GET', /^\/2\/users\/me$/)).toEqual(['200 GET /2/users/me']);
    expect(world.postRequests()).toHaveLength(4);
  });

  test('a tweet received before a restart is posted after it', async () => {
    world = await World.create();
    await world.subscribe();
    const { id } = await world.tweet('Received, then restarted');
    await world.restartAdapter();
    await world.adapter.runOnce();
    expect(await postedWithText('Received, then restarted')).toHaveLength(1);
    expect(outcomes(await world.collect())).toEqual([expect.objectContaining({ tweetId: id, status: 'posted' })]);
  });
});

describe('timeline', () => {
  test('pages through everything since since_id; only newer tweets are sent; authors resolved', async () => {
    world = await World.create({ adapter: { timelinePageSize: 5 } });
    await world.subscribe();
    await world.adapter.runOnce();
    const first = await world.collect();
    expect(first[0]).toMatchObject({ kind: 'subscriptionStatus', message: { state: 'active' } });
    // The first sync sends the most recent page only.
    const initial = timelineTweets(first);
    expect(initial).toHaveLength(5);
    expect(new Set(initial.map((t) => t.authorUsername))).toEqual(
      new Set(['awala_news', 'courier_cat', 'offline_chef']),
    );

    const newer: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      world.clock.advance(1000);
      const author = ['awala_news', 'courier_cat', 'offline_chef'][i % 3];
      newer.push(world.emulator.postTweetAs(author, `News number ${i} from @${author}`).id);
    }
    // Not due yet: nothing read.
    const reads = world.requestsTo('GET', /timelines\/reverse_chronological$/).length;
    await world.adapter.runOnce();
    expect(world.requestsTo('GET', /timelines\/reverse_chronological$/)).toHaveLength(reads);

    world.clock.advance(60_000);
    await world.adapter.runOnce();
    const second = timelineTweets(await world.collect());
    expect(second.map((t) => t.id)).toEqual(newer); // oldest first, all three pages, nothing older
    expect(world.requestsTo('GET', /timelines\/reverse_chronological$/)).toHaveLength(reads + 3);
    second.forEach((tweet, i) => {
      const author = ['awala_news', 'courier_cat', 'offline_chef'][i % 3];
      expect(tweet).toMatchObject({
        text: `News number ${i} from @${author}`,
        authorUsername: author,
        url: `https://x.com/${author}/status/${tweet.id}`,
      });
      expect(tweet.authorName).toBeTruthy();
      expect(tweet.createdAt).toBeInstanceOf(Date);
    });

    world.clock.advance(60_000);
    await world.adapter.runOnce();
    expect(await world.collect()).toEqual([]);
    expect(world.adapter.store.getSubscription(world.app.id)!.sinceId).toBe(newer[newer.length - 1]);
  });

  test('since_id survives a restart', async () => {
    world = await World.create();
    await world.subscribe();
    await world.adapter.runOnce();
    await world.collect();
    await world.restartAdapter();
    world.clock.advance(1000);
    const tweet = world.emulator.postTweetAs('courier_cat', 'After the restart');
    world.clock.advance(60_000);
    await world.adapter.runOnce();
    expect(timelineTweets(await world.collect()).map((t) => t.id)).toEqual([tweet.id]);
  });

  test('refused credentials (401): the subscription fails and the app is told', async () => {
    world = await World.create();
    await world.subscribe({ credentials: { accessToken: 'revoked', accessSecret: 'nope' } });
    await world.adapter.runOnce();
    const messages = await world.collect();
    // Never confirmed (ACTIVE) first: the adapter says so only once it has read the timeline.
    expect(messages).toEqual([
      expect.objectContaining({
        kind: 'subscriptionStatus',
        message: expect.objectContaining({ state: 'failed', httpStatus: 401, reason: 'Unauthorized' }),
      }),
    ]);
    expect(world.adapter.store.getSubscription(world.app.id)!.state).toBe('failed');
  });
});

describe('the X API unreachable', () => {
  function states(messages: Awaited<ReturnType<World['collect']>>) {
    return messages.map((m) =>
      m.kind === 'tweetOutcome'
        ? `outcome ${m.message.status}`
        : m.kind === 'subscriptionStatus'
          ? `subscription ${m.message.state}`
          : m.kind,
    );
  }

  test('after 3 failed attempts the app is told that its tweet and its subscription wait, and why; once X is back: posted, confirmed', async () => {
    world = await World.create();
    await world.emulator.close();
    await world.subscribe();
    const { id } = await world.tweet('While X is out of reach');

    await world.adapter.runOnce(); // attempt 1
    world.clock.advance(RETRY.initialDelayMs);
    await world.adapter.runOnce(); // attempt 2
    expect(await world.collect()).toEqual([]); // in particular, the subscription is not confirmed
    world.clock.advance(2 * RETRY.initialDelayMs);
    await world.adapter.runOnce(); // attempt 3
    const told = await world.collect();
    expect(states(told)).toEqual(['outcome waiting', 'subscription waiting']);
    for (const message of told) {
      expect(message.message).toMatchObject({
        reason: expect.stringMatching(/^Network error: .*ECONNREFUSED/),
        httpStatus: 0,
      });
    }
    expect(told[0].message).toMatchObject({ tweetId: id });

    // Told once; the adapter keeps trying.
    world.clock.advance(4 * RETRY.initialDelayMs);
    await world.adapter.runOnce();
    expect(await world.collect()).toEqual([]);
    expect(world.adapter.store.getTweet(world.app.id, id)).toMatchObject({ state: 'posting', attempts: 4 });

    await world.startEmulator(); // same port, same database
    world.clock.advance(RETRY.maxDelayMs);
    await world.adapter.runOnce();
    expect(states(await world.collect())).toEqual(['outcome posted', 'subscription active', 'timelineUpdateBatch']);
    expect(await postedWithText('While X is out of reach')).toHaveLength(1);
  });

  test('a database made before these columns existed gets them, and keeps its tweets', async () => {
    world = await World.create();
    const { id } = await world.tweet('Kept across the upgrade');
    await world.adapter.close();
    const db = new Database(join(world.dir, 'adapter', 'adapter.sqlite'));
    db.exec(
      'ALTER TABLE tweets DROP COLUMN waiting_sent; ALTER TABLE subscriptions DROP COLUMN reported_state; ALTER TABLE subscriptions DROP COLUMN status_seq',
    );
    db.close();
    await world.openAdapter();
    expect(world.adapter.store.getTweet(world.app.id, id)).toMatchObject({ state: 'pending', waitingSent: false });
    await world.subscribe();
    await world.adapter.runOnce();
    expect(states(await world.collect())).toEqual(['outcome posted', 'subscription active', 'timelineUpdateBatch']);
  });
});

describe('subscriptions', () => {
  test('an expired PDA: no timeline read and no outcome sent until the app subscribes again', async () => {
    world = await World.create();
    const short = await world.app.issuePda(
      world.adapter.endpoint.certificate,
      new Date(world.clock.now().getTime() + 3_600_000),
    );
    await world.subscribe({ authorization: short });
    await world.adapter.runOnce();
    await world.collect();
    world.clock.advance(2 * 3_600_000);
    const { id } = await world.tweet('While the PDA was expired');
    const reads = world.requestsTo('GET', /timelines\/reverse_chronological$/).length;
    await world.adapter.runOnce();
    expect(world.requestsTo('GET', /timelines\/reverse_chronological$/)).toHaveLength(reads);
    expect(world.adapter.store.getSubscription(world.app.id)!.state).toBe('failed');
    expect(await world.collect()).toEqual([]); // posted, but the outcome waits

    await world.subscribe();
    await world.adapter.runOnce();
    const messages = await world.collect();
    expect(outcomes(messages)).toEqual([expect.objectContaining({ tweetId: id, status: 'posted' })]);
    expect(world.adapter.store.getSubscription(world.app.id)!.state).toBe('active');
  });

  test('a PDA issued to another public endpoint is refused (acknowledged, nothing stored or sent)', async () => {
    world = await World.create();
    const other = await otherPublicEndpoint();
    try {
      const authorization = await world.issuePda(world.app, other.certificate);
      const { outcome } = await world.subscribe({ authorization });
      expect(outcome.status).toBe('accepted');
    } finally {
      await other.close();
    }
    await world.adapter.runOnce();
    expect(world.adapter.store.listSubscriptions()).toEqual([]);
    expect(await world.collect()).toEqual([]);
    expect(world.logger.find('error', /Refused a malformed message/)).toHaveLength(1);
  });

  test('a PDA that lets the adapter write to an endpoint other than the sender is refused', async () => {
    world = await World.create();
    const someoneElse = await otherApp(world);
    try {
      const authorization = await world.issuePda(someoneElse);
      await world.subscribe({ authorization });
      expect(world.adapter.store.listSubscriptions()).toEqual([]);
      expect(world.logger.find('error', /Refused a malformed message/)[0].fields).toMatchObject({
        err: expect.stringContaining('not to the sender'),
      });
    } finally {
      await someoneElse.close();
    }
  });
});
