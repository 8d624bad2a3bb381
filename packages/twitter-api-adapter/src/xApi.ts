/**
 * The X API v2 through twitter-api-v2: one client per user (their access token and secret from the message, the
 * consumer credentials from the adapter's configuration), redirected to the configured base URL unless it is the
 * real X API; and the classification of its errors.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the X API's JSON (twitter-api-v2's v2.get and its errors' data) is untyped; the readers check what they take */
import { ApiRequestError, ApiResponseError, type ITwitterApiClientPlugin, TwitterApi } from 'twitter-api-v2';

import type { UserCredentials } from '@twitter-relaynet/twitter-service';
import type { ApiConfig } from './config';
import { redirectHttpAgent, redirectPlugin } from './redirect';

export type XEndpoint = 'POST /2/tweets' | 'GET /2/users/me' | 'GET /2/users/:id/timelines/reverse_chronological';

export interface PostedTweet {
  readonly id: string;
  readonly text: string;
}

export interface XUser {
  readonly id: string;
  readonly username: string;
  readonly name: string;
}

export interface TimelinePage {
  readonly tweets: ReadonlyArray<{ id: string; text: string; author_id?: string; created_at?: string }>;
  readonly users: ReadonlyArray<{ id: string; username: string; name?: string }>;
  readonly nextToken: string | null;
  readonly newestId: string | null;
}

export interface TimelineQuery {
  readonly sinceId?: string | null;
  readonly maxResults: number;
  readonly paginationToken?: string | null;
}

/** What the adapter needs from the X API: a seam for the tests of failure handling. */
export interface XApi {
  postTweet(user: UserCredentials, text: string): Promise<PostedTweet>;
  me(user: UserCredentials): Promise<XUser>;
  homeTimelinePage(user: UserCredentials, userId: string, query: TimelineQuery): Promise<TimelinePage>;
}

/**
 * A request whose connection stays silent this long fails (as a network error, retried with backoff): without it a
 * stalled connection would hold up every later tweet and sync. twitter-api-v2 sets no timeout by default.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

const timeoutPlugin: ITwitterApiClientPlugin = {
  onBeforeRequestConfig({ params }) {
    params.timeout ??= REQUEST_TIMEOUT_MS;
  },
};

export class TwitterApiV2Client implements XApi {
  constructor(private readonly config: ApiConfig) {}

  private client(user: UserCredentials): TwitterApi {
    const tokens = {
      appKey: this.config.consumerKey,
      appSecret: this.config.consumerSecret,
      accessToken: user.accessToken,
      accessSecret: user.accessSecret,
    };
    if (this.config.isRealApi) return new TwitterApi(tokens, { plugins: [timeoutPlugin] });
    return new TwitterApi(tokens, {
      plugins: [timeoutPlugin, redirectPlugin(this.config.baseUrl)],
      httpAgent: redirectHttpAgent(this.config.baseUrl),
    });
  }

  async postTweet(user: UserCredentials, text: string): Promise<PostedTweet> {
    const result = await this.client(user).v2.tweet(text);
    return { id: result.data.id, text: result.data.text };
  }

  async me(user: UserCredentials): Promise<XUser> {
    const result = await this.client(user).v2.me();
    return { id: result.data.id, username: result.data.username, name: result.data.name };
  }

  async homeTimelinePage(user: UserCredentials, userId: string, query: TimelineQuery): Promise<TimelinePage> {
    const params: Record<string, string | number> = {
      max_results: query.maxResults,
      expansions: 'author_id',
      'tweet.fields': 'created_at,author_id',
      'user.fields': 'username,name',
    };
    if (query.sinceId) params.since_id = query.sinceId;
    if (query.paginationToken) params.pagination_token = query.paginationToken;
    const result: any = await this.client(user).v2.get(
      `users/${encodeURIComponent(userId)}/timelines/reverse_chronological`,
      params,
    );
    return {
      tweets: result.data ?? [],
      users: result.includes?.users ?? [],
      nextToken: result.meta?.next_token ?? null,
      newestId: result.meta?.newest_id ?? null,
    };
  }
}

export type ApiFailure =
  /** 401, 403: the credentials (or the content, for 403 duplicates) refused for good. */
  | { readonly kind: 'refused'; readonly status: number; readonly reason: string }
  /** 429: nothing before `resetAt`. */
  | { readonly kind: 'rateLimited'; readonly status: 429; readonly reason: string; readonly resetAt: Date }
  /** Network errors, 5xx, unexpected answers: retry with backoff. */
  | { readonly kind: 'transient'; readonly status: number; readonly reason: string };

/** Without x-rate-limit-reset, a 429 waits this long. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 15 * 60_000;
/**
 * A 429 waits at least this long: a reset time already past by our clock (ours ahead of X's) must not turn into a
 * request at every work pass.
 */
export const MIN_RATE_LIMIT_WAIT_MS = 30_000;

export function classifyApiError(error: unknown, now: Date): ApiFailure {
  if (error instanceof ApiResponseError) {
    const status = error.code;
    const data: any = error.data ?? {};
    // X's problem details often repeat the title as the detail ("Unauthorized", "Unauthorized"): say it once.
    const parts = [data.title, data.detail].filter((part): part is string => typeof part === 'string' && part !== '');
    const reason = [...new Set(parts)].join(': ') || error.message;
    if (status === 429) {
      const reset = error.rateLimit?.reset;
      const resetMs = reset ? reset * 1000 : now.getTime() + DEFAULT_RATE_LIMIT_WAIT_MS;
      const resetAt = new Date(Math.max(resetMs, now.getTime() + MIN_RATE_LIMIT_WAIT_MS));
      return { kind: 'rateLimited', status: 429, reason, resetAt };
    }
    if (status >= 400 && status < 500 && status !== 408) return { kind: 'refused', status, reason };
    return { kind: 'transient', status, reason };
  }
  if (error instanceof ApiRequestError) {
    // twitter-api-v2 1.29 builds the error with `error` but its `requestError` getter reads `requestError`.
    const cause: Error | undefined =
      error.requestError ?? (error as unknown as { _options?: { error?: Error } })._options?.error;
    return { kind: 'transient', status: 0, reason: `Network error: ${cause?.message ?? error.message}` };
  }
  return { kind: 'transient', status: 0, reason: (error as Error)?.message ?? String(error) };
}
