import { ApiResponseError, TwitterApi, type TweetV2HomeTimelineParams } from 'twitter-api-v2';

import { redirectHttpAgent, redirectPlugin } from '@twitter-relaynet/twitter-api-adapter';

import {
  createEmulatorClient,
  DEFAULT_CREDENTIALS,
  DEFAULT_USER,
  DUPLICATE_CONTENT_DETAIL,
  type RunningEmulator,
  startEmulator,
  TEXT_TOO_LONG_MESSAGE,
} from '../src';
import { signedFetch } from './helpers';

const TIMELINE_QUERY: Pick<TweetV2HomeTimelineParams, 'expansions' | 'tweet.fields' | 'user.fields'> = {
  expansions: ['author_id'],
  'tweet.fields': ['created_at'],
  'user.fields': ['username'],
};

/** The problem+json body of an error response. */
interface ProblemData {
  readonly title?: string;
  readonly detail?: string;
  readonly type?: string;
  readonly status?: number;
  readonly errors?: ReadonlyArray<{ readonly message: string; readonly parameters?: Record<string, string[]> }>;
}

type EmulatorApiError = Omit<ApiResponseError, 'data'> & { readonly data: ProblemData };

async function apiError(promise: Promise<unknown>): Promise<EmulatorApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiResponseError) return error as unknown as EmulatorApiError;
    throw error;
  }
  throw new Error('Expected an ApiResponseError');
}

describe('X API emulator through twitter-api-v2', () => {
  let emulator: RunningEmulator;
  let client: TwitterApi;
  const logLines: string[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, database: ':memory:', log: (line) => logLines.push(line) });
    client = createEmulatorClient(emulator.url, DEFAULT_CREDENTIALS);
  });

  afterAll(async () => {
    await emulator.close();
  });

  test('me returns the seeded user', async () => {
    const me = await client.v2.me();
    expect(me).toEqual({ data: { id: DEFAULT_USER.id, name: DEFAULT_USER.name, username: DEFAULT_USER.username } });
  });

  test("the default access token (from the shared configuration) starts with the seeded user's id, as X's do", () => {
    expect(DEFAULT_CREDENTIALS.accessToken.startsWith(`${DEFAULT_USER.id}-`)).toBe(true);
  });

  test('every authenticated response carries the rate-limit headers', async () => {
    const response = await client.v2.get('users/me', undefined, { fullResponse: true });
    expect(response.rateLimit).toEqual({ limit: 75, remaining: expect.any(Number), reset: expect.any(Number) });
    expect(response.rateLimit!.reset).toBeGreaterThan(Date.now() / 1000);
  });

  describe('posting', () => {
    test('creates a tweet with a snowflake id', async () => {
      const result = await client.v2.tweet('Hello from the emulator');
      expect(result).toEqual({
        data: {
          id: expect.stringMatching(/^[0-9]{18,19}$/),
          text: 'Hello from the emulator',
          edit_history_tweet_ids: [result.data.id],
        },
      });
      // A snowflake carries its creation time.
      const createdMs = Number((BigInt(result.data.id) >> 22n) + 1288834974657n);
      expect(Math.abs(createdMs - Date.now())).toBeLessThan(10_000);
    });

    test('answers 201 with application/json', async () => {
      const response = await signedFetch(emulator.url, DEFAULT_CREDENTIALS, 'POST', '/2/tweets', {
        body: JSON.stringify({ text: 'Raw request' }),
        contentType: 'application/json',
      });
      expect(response.status).toBe(201);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('x-rate-limit-limit')).toBe('200');
      expect(JSON.parse(response.text).data.text).toBe('Raw request');
    });

    test('gives ids that increase', async () => {
      const ids: bigint[] = [];
      for (let i = 0; i < 5; i++) ids.push(BigInt((await client.v2.tweet(`Numbered ${i}`)).data.id));
      expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
      expect(new Set(ids).size).toBe(5);
    });

    test('refuses duplicate content with 403', async () => {
      await client.v2.tweet('Say it once');
      const error = await apiError(client.v2.tweet('Say it once'));
      expect(error.code).toBe(403);
      expect(error.data).toEqual({
        title: 'Forbidden',
        type: 'about:blank',
        status: 403,
        detail: DUPLICATE_CONTENT_DETAIL,
      });
      expect(error.headers['content-type']).toBe('application/problem+json');
    });

    test('refuses text longer than 280 weighted characters with 400', async () => {
      await expect(client.v2.tweet('x'.repeat(280))).resolves.toBeDefined();
      const error = await apiError(client.v2.tweet('日'.repeat(141)));
      expect(error.code).toBe(400);
      expect(error.data.errors).toEqual([{ message: TEXT_TOO_LONG_MESSAGE }]);
      expect(error.data.title).toBe('Invalid Request');
    });

    test('refuses a body with fields the API does not know', async () => {
      const error = await apiError(client.v2.post('tweets', { text: 'hi', colour: 'blue' }));
      expect(error.code).toBe(400);
      expect(error.data.errors![0].message).toContain('$.colour');
    });
  });

  describe('authentication', () => {
    test('rejects an unknown consumer key with 401', async () => {
      const bad = createEmulatorClient(emulator.url, { ...DEFAULT_CREDENTIALS, appKey: 'someone-else' });
      const error = await apiError(bad.v2.me());
      expect(error.code).toBe(401);
      expect(error.isAuthError).toBe(true);
      expect(error.data).toEqual({ title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
    });

    test('rejects a wrong token secret (signature mismatch) with 401', async () => {
      const bad = createEmulatorClient(emulator.url, { ...DEFAULT_CREDENTIALS, accessSecret: 'not-the-secret' });
      const error = await apiError(bad.v2.tweet('Should not be posted'));
      expect(error.code).toBe(401);
      expect(logLines.some((line) => line.includes('signature mismatch'))).toBe(true);
    });

    test('rejects a wrong consumer secret with 401', async () => {
      const bad = createEmulatorClient(emulator.url, { ...DEFAULT_CREDENTIALS, appSecret: 'not-the-secret' });
      expect((await apiError(bad.v2.me())).code).toBe(401);
    });

    test('rejects a request with no credentials with 401', async () => {
      const response = await fetch(`${emulator.url}/2/users/me`);
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    });

    test('signs query parameters: a tampered query is rejected', async () => {
      // Sign for one query, send another: a plugin hook that runs after signing changes the URL.
      const tamper = new TwitterApi(DEFAULT_CREDENTIALS, {
        plugins: [
          redirectPlugin(emulator.url),
          {
            onBeforeRequest({ computedParams }) {
              computedParams.url.searchParams.set('max_results', '6');
            },
          },
        ],
        httpAgent: redirectHttpAgent(emulator.url),
      });
      const error = await apiError(
        tamper.v2.get(
          'users/:id/timelines/reverse_chronological',
          { max_results: 5 },
          { params: { id: DEFAULT_USER.id } },
        ),
      );
      expect(error.code).toBe(401);
    });

    test('rejects a replayed nonce and a stale timestamp', async () => {
      const nonce = 'the-same-nonce';
      expect((await signedFetch(emulator.url, DEFAULT_CREDENTIALS, 'GET', '/2/users/me', { nonce })).status).toBe(200);
      expect((await signedFetch(emulator.url, DEFAULT_CREDENTIALS, 'GET', '/2/users/me', { nonce })).status).toBe(401);
      const stale = Math.floor(Date.now() / 1000) - 3600;
      expect(
        (await signedFetch(emulator.url, DEFAULT_CREDENTIALS, 'GET', '/2/users/me', { timestamp: stale })).status,
      ).toBe(401);
    });

    test('accepts the OAuth 2 user-context bearer token, and only it', async () => {
      const oauth2 = createEmulatorClient(emulator.url, DEFAULT_CREDENTIALS.oauth2AccessToken);
      expect((await oauth2.v2.me()).data.username).toBe(DEFAULT_USER.username);
      const wrong = createEmulatorClient(emulator.url, 'wrong-token');
      expect((await apiError(wrong.v2.me())).code).toBe(401);
    });
  });

  describe('home timeline', () => {
    test('lists the user and followed accounts, newest first, with authors', async () => {
      const timeline = await client.v2.homeTimeline({ ...TIMELINE_QUERY, max_results: 100 });
      const tweets = timeline.tweets;
      expect(tweets.length).toBeGreaterThan(6);
      const ids = tweets.map((t) => BigInt(t.id));
      expect([...ids].sort((a, b) => (a > b ? -1 : 1))).toEqual(ids);
      expect(tweets[0]).toEqual({
        id: expect.any(String),
        text: expect.any(String),
        edit_history_tweet_ids: [tweets[0].id],
        author_id: expect.any(String),
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      const usernames = timeline.includes.users.map((u) => u.username).sort();
      expect(usernames).toEqual(['awala_news', 'courier_cat', 'offline_chef', 'relaynet_user']);
      expect(timeline.meta).toEqual({
        result_count: tweets.length,
        newest_id: tweets[0].id,
        oldest_id: tweets[tweets.length - 1].id,
      });
      expect(tweets.some((t) => t.text.includes('should not see'))).toBe(false);
    });

    test('pages with next_token', async () => {
      const timeline = await client.v2.homeTimeline({ ...TIMELINE_QUERY, max_results: 5 });
      expect(timeline.tweets).toHaveLength(5);
      expect(timeline.meta.next_token).toEqual(expect.any(String));
      const firstPageOldest = BigInt(timeline.meta.oldest_id);
      const next = await timeline.next(5);
      expect(next.tweets.length).toBeGreaterThan(0);
      expect(next.tweets.every((t) => BigInt(t.id) < firstPageOldest)).toBe(true);
      const all = await client.v2.homeTimeline({ max_results: 100 });
      await timeline.fetchLast(1000);
      expect(timeline.tweets.map((t) => t.id)).toEqual(all.tweets.map((t) => t.id));
    });

    test('returns only newer tweets with since_id, and a bare meta when there are none', async () => {
      const before = await client.v2.homeTimeline({ ...TIMELINE_QUERY, max_results: 5 });
      const newestId = before.meta.newest_id;
      const fromCat = emulator.postTweetAs('courier_cat', 'Fresh from the river');
      const mine = await client.v2.tweet('My own fresh tweet');

      const newer = await client.v2.homeTimeline({ ...TIMELINE_QUERY, since_id: newestId });
      expect(newer.tweets.map((t) => t.id)).toEqual([mine.data.id, fromCat.id]);
      expect(newer.tweets[1]).toMatchObject({ text: 'Fresh from the river', author_id: '1746000000000000003' });
      expect(newer.includes.users.map((u) => u.username)).toEqual(['relaynet_user', 'courier_cat']);
      expect(newer.meta).toEqual({ result_count: 2, newest_id: mine.data.id, oldest_id: fromCat.id });

      const raw = await client.v2.get(
        'users/:id/timelines/reverse_chronological',
        { since_id: mine.data.id, expansions: 'author_id', 'tweet.fields': 'created_at', 'user.fields': 'username' },
        { params: { id: DEFAULT_USER.id } },
      );
      expect(raw).toEqual({ meta: { result_count: 0 } });
    });

    test('pages within since_id', async () => {
      const start = (await client.v2.homeTimeline({ max_results: 5 })).meta.newest_id;
      const posted: string[] = [];
      for (let i = 0; i < 7; i++) posted.push(emulator.postTweetAs('offline_chef', `Step ${i}`).id);
      const page = await client.v2.homeTimeline({ since_id: start, max_results: 5 });
      expect(page.tweets.map((t) => t.id)).toEqual(posted.slice(2).reverse());
      await page.fetchNext(5);
      expect(page.tweets.map((t) => t.id)).toEqual([...posted].reverse());
      expect(page.done).toBe(true);
    });

    test('validates max_results (5..100) and parameter names', async () => {
      for (const max of [4, 101]) {
        const error = await apiError(client.v2.homeTimeline({ max_results: max }));
        expect(error.code).toBe(400);
        expect(error.data.title).toBe('Invalid Request');
        expect(error.data.errors![0].parameters).toEqual({ max_results: [String(max)] });
      }
      const unknown = await apiError(
        client.v2.get(
          'users/:id/timelines/reverse_chronological',
          { sinceid: '1' },
          { params: { id: DEFAULT_USER.id } },
        ),
      );
      expect(unknown.code).toBe(400);
      expect(unknown.data.errors![0].message).toMatch(/^The query parameter \[sinceid\] is not one of/);
      const badField = await apiError(client.v2.homeTimeline({ 'tweet.fields': ['createdAt' as 'created_at'] }));
      expect(badField.code).toBe(400);
    });

    test("refuses another user's home timeline", async () => {
      const error = await apiError(
        client.v2.get('users/:id/timelines/reverse_chronological', {}, { params: { id: '1746000000000000002' } }),
      );
      expect(error.code).toBe(403);
    });
  });

  describe('rate limits', () => {
    test('answers 429 with the reset time once the limit is reached', async () => {
      emulator.setRateLimit('GET /2/tweets/:id', 2);
      const { id } = emulator.postTweetAs('awala_news', 'Rate limit fodder');
      const first = await client.v2.get(`tweets/${id}`, undefined, { fullResponse: true });
      expect(first.rateLimit).toMatchObject({ limit: 2, remaining: 1 });
      await client.v2.singleTweet(id);
      const error = await apiError(client.v2.singleTweet(id));
      expect(error.code).toBe(429);
      expect(error.rateLimitError).toBe(true);
      expect(error.rateLimit).toEqual({ limit: 2, remaining: 0, reset: first.rateLimit!.reset });
      expect(error.data).toEqual({
        title: 'Too Many Requests',
        detail: 'Too Many Requests',
        type: 'about:blank',
        status: 429,
      });
      emulator.resetRateLimits();
      emulator.setRateLimit('GET /2/tweets/:id', 900);
      await expect(client.v2.singleTweet(id)).resolves.toBeDefined();
    });

    test('windows last 15 minutes on the emulator clock', async () => {
      let offset = 0;
      const limited = await startEmulator({
        port: 0,
        rateLimits: { 'POST /2/tweets': 1 },
        clock: () => Date.now() + offset,
        oauthTimestampToleranceSeconds: null,
      });
      try {
        const c = createEmulatorClient(limited.url, DEFAULT_CREDENTIALS);
        await c.v2.tweet('one');
        const error = await apiError(c.v2.tweet('two'));
        expect(error.code).toBe(429);
        expect(error.rateLimit!.reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 899);
        offset = 15 * 60_000;
        await expect(c.v2.tweet('two')).resolves.toBeDefined();
      } finally {
        await limited.close();
      }
    });
  });

  describe('single tweet', () => {
    test('gets a tweet by id with its author', async () => {
      const posted = await client.v2.tweet('Look me up');
      const result = await client.v2.singleTweet(posted.data.id, TIMELINE_QUERY);
      expect(result.data).toMatchObject({ id: posted.data.id, text: 'Look me up', author_id: DEFAULT_USER.id });
      expect(result.includes!.users).toEqual([
        { id: DEFAULT_USER.id, name: DEFAULT_USER.name, username: DEFAULT_USER.username },
      ]);
    });

    test('reports an unknown id as the real API does: 200 with errors and no data', async () => {
      const result = await client.v2.singleTweet('1234567890123456789');
      expect(result.data).toBeUndefined();
      expect(result.errors).toEqual([
        expect.objectContaining({
          title: 'Not Found Error',
          detail: 'Could not find tweet with id: [1234567890123456789].',
          resource_type: 'tweet',
          type: 'https://api.twitter.com/2/problems/resource-not-found',
        }),
      ]);
    });

    test('answers 400 for a malformed id and 404 for an unknown route', async () => {
      expect((await apiError(client.v2.singleTweet('not-a-number'))).code).toBe(400);
      const error = await apiError(client.v2.get('tweets/1/nothing-here'));
      expect(error.code).toBe(404);
      expect(error.data.title).toBe('Not Found Error');
    });
  });
});
