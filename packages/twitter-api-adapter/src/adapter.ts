/**
 * The Twitter API adapter: a public endpoint whose messages are Tweets and UpdateSubscriptions, a poster that
 * posts tweets through the X API exactly once and sends each TweetOutcome back, and a timeline sync that sends new
 * home-timeline tweets as TimelineUpdateBatch parcels. All state is durable (AdapterStore + the endpoint's SQLite
 * outbox), so nothing is lost across restarts.
 *
 * Exactly-once posting: a Tweet is recorded ('pending') before its parcel is acknowledged; repeats of (sender,
 * Tweet.id) are ignored. Before calling POST /2/tweets the record becomes 'posting'; if the process dies (or the
 * call fails in a way that leaves it unknown whether X posted it) the tweet stays 'posting' and the next attempt
 * first looks for it in the user's home timeline (the user's own tweets are in it) and only posts when it is not
 * there. Residual window: a tweet posted but not (yet) visible in the first page of the timeline would be posted
 * again — and then X's duplicate-content check refuses the second copy (403), reported as a failed outcome.
 */
import { createHash } from 'node:crypto';

import {
  checkDeliveryAuthorization,
  deserializeDeliveryAuthorization,
  PeerError,
  PublicEndpoint,
  systemClock,
  type Clock,
  type DeliveryAuthorization,
  type GatewayResolver,
  type GatewayRoute,
  type IncomingMessage,
} from '@twitter-relaynet/endpoint';
import {
  decodeTweet,
  decodeUpdateSubscription,
  MalformedServiceMessageError,
  serviceMessages,
  TWEET_TYPE,
  UPDATE_SUBSCRIPTION_TYPE,
  type SubscriptionStatus,
  type TimelineTweet,
  type TweetOutcome,
  type UserCredentials,
} from '@twitter-relaynet/twitter-service';

import { backoffDelay, type BackoffOptions, errorMessage, type Logger, silentLogger } from '@twitter-relaynet/core';
import { AdapterStore, type SubscriptionRecord, type TweetRecord } from './store';
import { classifyApiError, type ApiFailure, type XApi, type XEndpoint } from './xApi';

export interface RetryOptions {
  /** First delay after a network error (default 5 s). */
  readonly initialDelayMs?: number;
  /** Cap (default 15 min). */
  readonly maxDelayMs?: number;
}

export interface TwitterApiAdapterOptions {
  /** Holds endpoint.sqlite (the public endpoint) and adapter.sqlite. */
  readonly dataDir: string;
  readonly internetAddress: string;
  readonly api: XApi;
  readonly relayingGateway?: GatewayRoute | GatewayResolver;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Home timeline polling per subscription (default 90 s). */
  readonly syncIntervalMs?: number;
  /** max_results per timeline page (5–100; default 100). */
  readonly timelinePageSize?: number;
  /** Backoff after network errors and 5xx. */
  readonly retry?: RetryOptions;
  /** Outbox delivery backoff (endpoint). */
  readonly outboxBackoff?: BackoffOptions;
  /** How often due work is looked for (default 1 s); 0 disables the timer (tests call runOnce()). */
  readonly workIntervalMs?: number;
}

/** Timeline pages read per sync at most (X serves the 800 most recent tweets). */
const MAX_TIMELINE_PAGES = 10;
/**
 * After this many failed attempts to reach the X API (15 s with the default backoff) the app is told that its
 * tweet, or its subscription, waits for the X API; the adapter keeps trying.
 */
const WAITING_REPORT_ATTEMPTS = 3;
/** Tweets per TimelineUpdateBatch parcel. */
const BATCH_SIZE = 100;

const POST_TWEETS: XEndpoint = 'POST /2/tweets';
const USERS_ME: XEndpoint = 'GET /2/users/me';
const HOME_TIMELINE: XEndpoint = 'GET /2/users/:id/timelines/reverse_chronological';

class RateLimitedLocally extends Error {
  constructor(readonly resetAt: Date) {
    super(`Rate limited until ${resetAt.toISOString()}`);
  }
}

/** Parcel ids derived from what they carry: a re-sent copy (after a crash) is dropped by the app as a repeat. */
export function deterministicParcelId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 48);
}

export function tweetUrlFor(xTweetId: string, username: string | null): string {
  return username ? `https://x.com/${username}/status/${xTweetId}` : `https://x.com/i/status/${xTweetId}`;
}

export class TwitterApiAdapter {
  static async open(options: TwitterApiAdapterOptions): Promise<TwitterApiAdapter> {
    const store = AdapterStore.open(options.dataDir);
    let adapter: TwitterApiAdapter | undefined;
    try {
      const endpoint = await PublicEndpoint.open({
        dataDir: options.dataDir,
        internetAddress: options.internetAddress,
        relayingGateway: options.relayingGateway,
        clock: options.clock,
        logger: options.logger,
        backoff: options.outboxBackoff,
        onMessage: (message) => adapter!.handleMessage(message),
      });
      adapter = new TwitterApiAdapter(options, store, endpoint);
      adapter.start();
      return adapter;
    } catch (error) {
      store.close();
      throw error;
    }
  }

  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly syncIntervalMs: number;
  private readonly pageSize: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rerun = false;
  private closed = false;

  private constructor(
    private readonly options: TwitterApiAdapterOptions,
    readonly store: AdapterStore,
    readonly endpoint: PublicEndpoint,
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.syncIntervalMs = options.syncIntervalMs ?? 90_000;
    this.pageSize = Math.min(100, Math.max(5, options.timelinePageSize ?? 100));
  }

  get id(): string {
    return this.endpoint.id;
  }

  private start(): void {
    const interval = this.options.workIntervalMs ?? 1000;
    if (interval > 0) {
      this.timer = setInterval(() => this.trigger(), interval);
      this.timer.unref();
      this.trigger();
    }
  }

  /** Run a work pass soon (serialized: one pass at a time). */
  trigger(): void {
    if (this.closed || (this.options.workIntervalMs ?? 1000) === 0) return;
    void this.runOnce().catch((error) => this.logger.error({ err: errorMessage(error) }, 'Work pass failed'));
  }

  /** One pass: post due tweets, send outcomes, sync due timelines. Concurrent calls share one pass. */
  runOnce(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.rerun = false;
          await this.processTweets();
          await this.sendPendingOutcomes();
          await this.syncTimelines();
        } while (this.rerun && !this.closed);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  // Incoming messages ----------------------------------------------------------------------------------------------

  /** Takes a message durably; the parcel is acknowledged once this resolves. */
  async handleMessage(message: IncomingMessage): Promise<void> {
    const fields = { parcelId: message.parcelId, senderId: message.sender.id, type: message.type };
    try {
      if (message.type === TWEET_TYPE) {
        await this.takeTweet(message);
      } else if (message.type === UPDATE_SUBSCRIPTION_TYPE) {
        await this.takeSubscription(message);
      } else {
        this.logger.error(fields, 'Refused a message of an unknown type (acknowledged, dropped)');
        return;
      }
    } catch (error) {
      if (error instanceof MalformedServiceMessageError || error instanceof PeerError) {
        this.logger.error({ ...fields, err: error.message }, 'Refused a malformed message (acknowledged, dropped)');
        return;
      }
      throw error; // a store failure: not acknowledged, the gateway delivers it again
    }
    this.trigger();
  }

  private async takeTweet(message: IncomingMessage): Promise<void> {
    const tweet = decodeTweet(message.content);
    const added = this.store.addTweet({
      senderId: message.sender.id,
      tweetId: tweet.id,
      parcelId: message.parcelId,
      text: tweet.text,
      accessToken: tweet.credentials.accessToken,
      accessSecret: tweet.credentials.accessSecret,
      gatewayAddress: message.gatewayAddress,
      received: this.clock.now(),
    });
    this.logger.info(
      { parcelId: message.parcelId, senderId: message.sender.id, tweetId: tweet.id },
      added ? 'Tweet recorded; it will be posted' : 'Repeated tweet ignored (already recorded)',
    );
  }

  private async takeSubscription(message: IncomingMessage): Promise<void> {
    const subscription = decodeUpdateSubscription(message.content);
    const authorization = deserializeDeliveryAuthorization(subscription.deliveryAuthorization);
    const now = this.clock.now();
    const { recipientId } = await checkDeliveryAuthorization(authorization, this.endpoint.id, now);
    if (recipientId !== message.sender.id) {
      throw new PeerError(`The PDA lets us write to ${recipientId}, not to the sender ${message.sender.id}`);
    }
    const stored = this.store.upsertSubscription({
      senderId: message.sender.id,
      deliveryAuthorization: subscription.deliveryAuthorization,
      pdaExpiry: authorization.pda.expiryDate,
      accessToken: subscription.credentials.accessToken,
      accessSecret: subscription.credentials.accessSecret,
      gatewayAddress: message.gatewayAddress,
      creationDate: subscription.creationDate ?? message.creationDate,
      nextSync: now,
    });
    const fields = {
      parcelId: message.parcelId,
      senderId: message.sender.id,
      pdaExpiry: authorization.pda.expiryDate.toISOString(),
    };
    if (!stored) {
      this.logger.info(fields, 'Older subscription ignored (a newer one is stored)');
      return;
    }
    // Confirmed (ACTIVE) only once the timeline has been read: before that, nobody knows whether X can be reached.
    this.logger.info(fields, 'Subscription stored');
  }

  // Posting --------------------------------------------------------------------------------------------------------

  async processTweets(): Promise<void> {
    for (const tweet of this.store.dueTweets(this.clock.now())) {
      if (this.closed) return;
      await this.processTweet(tweet);
    }
  }

  private async processTweet(tweet: TweetRecord): Promise<void> {
    const fields = {
      parcelId: tweet.parcelId,
      senderId: tweet.senderId,
      tweetId: tweet.tweetId,
      attempt: tweet.attempts + 1,
    };
    const user = { accessToken: tweet.accessToken, accessSecret: tweet.accessSecret };
    try {
      if (tweet.state === 'posting') {
        // A previous attempt may have posted it: look before posting again.
        const found = await this.findPostedTweet(tweet.senderId, user, tweet.text);
        if (found) {
          this.store.markPosted(tweet, found.id, tweetUrlFor(found.id, found.username), this.clock.now());
          this.logger.info(
            { ...fields, xTweetId: found.id },
            'Found the tweet already posted by an interrupted attempt',
          );
          return;
        }
      }
      this.assertNotRateLimited(user, POST_TWEETS);
      this.store.markPosting(tweet);
      const posted = await this.call(user, POST_TWEETS, () => this.options.api.postTweet(user, tweet.text));
      const username = await this.usernameFor(tweet.senderId, user);
      this.store.markPosted(tweet, posted.id, tweetUrlFor(posted.id, username), this.clock.now());
      this.logger.info({ ...fields, xTweetId: posted.id }, 'Tweet posted');
    } catch (error) {
      const failure = this.toFailure(error, user, POST_TWEETS);
      if (failure.kind === 'refused') {
        this.store.markFailed(tweet, failure.reason, failure.status, this.clock.now());
        this.logger.warn(
          { ...fields, httpStatus: failure.status, reason: failure.reason },
          'The X API refused the tweet',
        );
      } else if (failure.kind === 'rateLimited') {
        // A 429 from POST /2/tweets means X did not post it (and any earlier attempt was looked for first); a
        // 429 while looking for an earlier attempt leaves the question open ('posting').
        const fromPost = error instanceof ApiCallError && error.endpoint === POST_TWEETS;
        const state = tweet.state === 'posting' && !fromPost ? 'posting' : 'pending';
        this.store.scheduleRetry(tweet, state, failure.resetAt, failure.reason, false);
        this.logger.warn(
          { ...fields, resetAt: failure.resetAt.toISOString() },
          'Rate limited: the tweet waits for the reset',
        );
      } else {
        // Unknown whether X posted it: 'posting', so the next attempt checks first.
        const retryAt = new Date(this.clock.now().getTime() + this.backoffMs(tweet.attempts + 1));
        this.store.scheduleRetry(tweet, 'posting', retryAt, failure.reason, true);
        this.logger.warn(
          { ...fields, reason: failure.reason, retryAt: retryAt.toISOString() },
          'X API unreachable: will retry',
        );
      }
    }
  }

  /**
   * The user's username, for a posted tweet's URL: the subscription's, else asked of X (a tweet can come
   * before the first timeline sync learnt it, or without a subscription). Never throws: the tweet is
   * posted whatever happens here, and x.com/i/status/<id> works too.
   */
  private async usernameFor(senderId: string, user: UserCredentials): Promise<string | null> {
    const subscription = this.store.getSubscription(senderId);
    const sameUser = subscription?.accessToken === user.accessToken;
    if (sameUser && subscription?.username) return subscription.username;
    try {
      const me = await this.whoIs(user);
      if (sameUser && !subscription?.userId) this.store.setSubscriptionUser(senderId, me.id, me.username);
      return me.username;
    } catch (error) {
      this.logger.warn(
        { senderId, reason: error instanceof Error ? error.message : String(error) },
        'Username unknown: the tweet URL uses x.com/i/status',
      );
      return null;
    }
  }

  /**
   * The X user these credentials belong to: remembered from an earlier answer, else asked of users/me. Asking
   * once per token matters: users/me allows 75 requests per 15 minutes, and once they were spent (a URL per
   * posted tweet) an interrupted post could not be looked for, so it waited for the window's reset.
   */
  private async whoIs(user: UserCredentials): Promise<{ id: string; username: string }> {
    const known = this.store.knownUser(user.accessToken);
    if (known) return known;
    const me = await this.call(user, USERS_ME, () => this.options.api.me(user));
    this.store.rememberUser(user.accessToken, me.id, me.username);
    return { id: me.id, username: me.username };
  }

  /** The user's own recent tweet with this text, if the home timeline shows one. */
  private async findPostedTweet(
    senderId: string,
    user: UserCredentials,
    text: string,
  ): Promise<{ id: string; username: string } | null> {
    // The subscription usually knows who the user is already: one request fewer (users/me has a low limit).
    const subscription = this.store.getSubscription(senderId);
    const me =
      subscription?.userId && subscription.username && subscription.accessToken === user.accessToken
        ? { id: subscription.userId, username: subscription.username }
        : await this.whoIs(user);
    const page = await this.call(user, HOME_TIMELINE, () =>
      this.options.api.homeTimelinePage(user, me.id, { maxResults: 100 }),
    );
    const wanted = comparableText(text);
    const match = page.tweets.find((tweet) => tweet.author_id === me.id && comparableText(tweet.text) === wanted);
    return match ? { id: match.id, username: me.username } : null;
  }

  // Outcomes -------------------------------------------------------------------------------------------------------

  /**
   * Queue the outcomes of final tweets to their apps, and a WAITING outcome for each tweet the X API could not
   * be reached for after a few attempts (those without a subscription wait for one).
   */
  async sendPendingOutcomes(): Promise<void> {
    for (const tweet of this.store.unsentOutcomes()) {
      if (this.closed) return;
      const outcome: TweetOutcome =
        tweet.state === 'posted'
          ? {
              tweetId: tweet.tweetId,
              parcelId: tweet.parcelId,
              status: 'posted',
              xTweetId: tweet.xTweetId!,
              url: tweet.url!,
              date: tweet.outcomeDate,
            }
          : {
              tweetId: tweet.tweetId,
              parcelId: tweet.parcelId,
              status: 'failed',
              reason: tweet.reason ?? 'Unknown error',
              httpStatus: tweet.httpStatus ?? 0,
              date: tweet.outcomeDate,
            };
      if (await this.sendOutcome(tweet, outcome, deterministicParcelId('outcome', tweet.senderId, tweet.tweetId))) {
        this.store.markOutcomeSent(tweet);
      }
    }
    for (const tweet of this.store.unreportedWaitingTweets(WAITING_REPORT_ATTEMPTS)) {
      if (this.closed) return;
      const outcome: TweetOutcome = {
        tweetId: tweet.tweetId,
        parcelId: tweet.parcelId,
        status: 'waiting',
        reason: tweet.reason ?? 'The X API could not be reached',
        httpStatus: 0,
        date: this.clock.now(),
      };
      if (
        await this.sendOutcome(tweet, outcome, deterministicParcelId('outcome-waiting', tweet.senderId, tweet.tweetId))
      ) {
        this.store.markWaitingSent(tweet);
      }
    }
  }

  /** Queue a TweetOutcome for the tweet's app; false when it has to wait for a (new) subscription. */
  private async sendOutcome(tweet: TweetRecord, outcome: TweetOutcome, parcelId: string): Promise<boolean> {
    const fields = { parcelId: tweet.parcelId, senderId: tweet.senderId, tweetId: tweet.tweetId };
    const subscription = this.store.getSubscription(tweet.senderId);
    // Kept until the app's UpdateSubscription brings a (new) PDA; an expired one is not worth a warning per pass.
    if (!subscription || subscription.pdaExpiry.getTime() <= this.clock.now().getTime()) return false;
    try {
      const queued = await this.endpoint.sendMessage(serviceMessages.tweetOutcome(outcome), {
        authorization: deserializeDeliveryAuthorization(subscription.deliveryAuthorization),
        gatewayAddress: subscription.gatewayAddress ?? tweet.gatewayAddress,
        parcelId,
      });
      this.logger.info(
        { ...fields, outcomeParcelId: queued.parcelId, status: outcome.status },
        'Tweet outcome queued for the app',
      );
      return true;
    } catch (error) {
      if (error instanceof PeerError) {
        this.logger.warn(
          { ...fields, error: error.message },
          'Cannot send the outcome yet (PDA unusable): waiting for a new subscription',
        );
        return false;
      }
      throw error;
    }
  }

  // Timeline -------------------------------------------------------------------------------------------------------

  async syncTimelines(): Promise<void> {
    const now = this.clock.now();
    for (const subscription of this.store.listSubscriptions()) {
      if (this.closed) return;
      if (subscription.state !== 'active' || subscription.nextSync.getTime() > now.getTime()) continue;
      if (subscription.pdaExpiry.getTime() <= now.getTime()) {
        // Nothing could be sent back: no point reading the timeline until the app subscribes again.
        this.store.failSubscription(subscription.senderId, 'The PDA expired');
        this.logger.warn(
          { senderId: subscription.senderId },
          'The PDA expired: timeline sync suspended until a new subscription',
        );
        continue;
      }
      await this.syncTimeline(subscription);
    }
  }

  private async syncTimeline(subscription: SubscriptionRecord): Promise<void> {
    const fields = { senderId: subscription.senderId, sinceId: subscription.sinceId };
    const user = { accessToken: subscription.accessToken, accessSecret: subscription.accessSecret };
    const authorization = deserializeDeliveryAuthorization(subscription.deliveryAuthorization);
    try {
      let { userId, username } = subscription;
      if (!userId) {
        const me = await this.whoIs(user);
        userId = me.id;
        username = me.username;
        this.store.setSubscriptionUser(subscription.senderId, me.id, me.username);
      }
      const tweets: TimelineTweet[] = [];
      let newestId: string | null = null;
      let token: string | null = null;
      for (let page = 0; page < MAX_TIMELINE_PAGES; page += 1) {
        const result = await this.call(user, HOME_TIMELINE, () =>
          this.options.api.homeTimelinePage(user, userId!, {
            sinceId: subscription.sinceId,
            maxResults: this.pageSize,
            paginationToken: token,
          }),
        );
        newestId ??= result.newestId ?? result.tweets[0]?.id ?? null;
        const users = new Map(result.users.map((u) => [u.id, u]));
        for (const tweet of result.tweets) {
          const author = tweet.author_id ? users.get(tweet.author_id) : undefined;
          const authorUsername = author?.username ?? (tweet.author_id === userId ? username : null) ?? 'unknown';
          tweets.push({
            id: tweet.id,
            text: tweet.text,
            authorId: tweet.author_id ?? null,
            authorUsername,
            authorName: author?.name ?? null,
            createdAt: tweet.created_at ? new Date(tweet.created_at) : null,
            url: tweetUrlFor(tweet.id, authorUsername === 'unknown' ? null : authorUsername),
          });
        }
        token = result.nextToken;
        // The first sync sends only the most recent page; later ones everything since since_id.
        if (!token || !subscription.sinceId) break;
        if (page === MAX_TIMELINE_PAGES - 1) {
          this.logger.warn(
            { ...fields, pages: MAX_TIMELINE_PAGES },
            'More new tweets than one sync reads: the oldest are skipped',
          );
        }
      }
      tweets.reverse(); // oldest first
      if (subscription.reportedState !== 'active') {
        await this.reportSubscription(subscription, authorization, { state: 'active', date: this.clock.now() });
      }
      for (let start = 0; start < tweets.length; start += BATCH_SIZE) {
        const chunk = tweets.slice(start, start + BATCH_SIZE);
        const queued = await this.endpoint.sendMessage(serviceMessages.timelineUpdateBatch({ tweets: chunk }), {
          authorization,
          gatewayAddress: subscription.gatewayAddress,
          parcelId: deterministicParcelId('timeline', subscription.senderId, chunk[0].id, chunk[chunk.length - 1].id),
        });
        this.logger.info(
          { ...fields, parcelId: queued.parcelId, tweets: chunk.length, newestId: chunk[chunk.length - 1].id },
          'Timeline update batch queued for the app',
        );
      }
      const next = new Date(this.clock.now().getTime() + this.syncIntervalMs);
      this.store.completeSync(subscription.senderId, tweets.length > 0 ? newestId : null, next);
    } catch (error) {
      if (error instanceof PeerError) {
        this.logger.warn(
          { ...fields, error: error.message },
          'Cannot send timeline updates (PDA unusable): waiting for a new subscription',
        );
        this.store.failSubscription(subscription.senderId, error.message);
        return;
      }
      const failure = this.toFailure(error, user, HOME_TIMELINE);
      if (failure.kind === 'refused') {
        await this.reportSubscription(subscription, authorization, {
          state: 'failed',
          reason: failure.reason,
          httpStatus: failure.status,
          date: this.clock.now(),
        });
        this.store.failSubscription(subscription.senderId, failure.reason);
        this.logger.warn(
          { ...fields, httpStatus: failure.status, reason: failure.reason },
          'The X API refused the timeline: subscription suspended',
        );
      } else if (failure.kind === 'rateLimited') {
        this.store.postponeSync(subscription.senderId, failure.resetAt, failure.reason, false);
        this.logger.warn(
          { ...fields, resetAt: failure.resetAt.toISOString() },
          'Rate limited: the timeline sync waits for the reset',
        );
      } else {
        const retryAt = new Date(this.clock.now().getTime() + this.backoffMs(subscription.attempts + 1));
        this.store.postponeSync(subscription.senderId, retryAt, failure.reason, true);
        this.logger.warn(
          { ...fields, reason: failure.reason, retryAt: retryAt.toISOString() },
          'X API unreachable: timeline sync will retry',
        );
        if (subscription.attempts + 1 >= WAITING_REPORT_ATTEMPTS && subscription.reportedState !== 'waiting') {
          await this.reportSubscription(subscription, authorization, {
            state: 'waiting',
            reason: failure.reason,
            httpStatus: failure.status,
            date: this.clock.now(),
          });
        }
      }
    }
  }

  /**
   * Queue a SubscriptionStatus for the app and remember it was sent. Its parcel id is derived from the sender, a
   * count and the state: a copy queued again after a crash is dropped by the app as a repeat.
   */
  private async reportSubscription(
    subscription: SubscriptionRecord,
    authorization: DeliveryAuthorization,
    status: SubscriptionStatus,
  ): Promise<void> {
    const seq = subscription.statusSeq + 1;
    try {
      await this.endpoint.sendMessage(serviceMessages.subscriptionStatus(status), {
        authorization,
        gatewayAddress: subscription.gatewayAddress,
        parcelId: deterministicParcelId('subscription-status', subscription.senderId, String(seq), status.state),
      });
    } catch (error) {
      // Thrown from a sync's failure handling, it would stop the pass before the other subscriptions.
      if (!(error instanceof PeerError)) throw error;
      this.logger.warn(
        { senderId: subscription.senderId, error: error.message },
        'Cannot send the subscription status (PDA unusable): waiting for a new subscription',
      );
      this.store.failSubscription(subscription.senderId, error.message);
      return;
    }
    this.store.markStatusReported(subscription.senderId, status.state, seq);
    this.logger.info(
      { senderId: subscription.senderId, state: status.state, reason: status.reason },
      'Subscription status queued for the app',
    );
  }

  // API calls ------------------------------------------------------------------------------------------------------

  private assertNotRateLimited(user: UserCredentials, endpoint: XEndpoint): void {
    const resetAt = this.store.getRateLimitReset(user.accessToken, endpoint, this.clock.now());
    if (resetAt) throw new RateLimitedLocally(resetAt);
  }

  /** Call the API unless `endpoint` is rate limited for this user; record a 429's reset. */
  private async call<T>(user: UserCredentials, endpoint: XEndpoint, fn: () => Promise<T>): Promise<T> {
    this.assertNotRateLimited(user, endpoint);
    try {
      return await fn();
    } catch (error) {
      throw new ApiCallError(endpoint, error);
    }
  }

  private toFailure(error: unknown, user: UserCredentials, defaultEndpoint: XEndpoint): ApiFailure {
    if (error instanceof RateLimitedLocally) {
      return { kind: 'rateLimited', status: 429, reason: error.message, resetAt: error.resetAt };
    }
    const endpoint = error instanceof ApiCallError ? error.endpoint : defaultEndpoint;
    const cause = error instanceof ApiCallError ? error.cause : error;
    const failure = classifyApiError(cause, this.clock.now());
    if (failure.kind === 'rateLimited') this.store.setRateLimitReset(user.accessToken, endpoint, failure.resetAt);
    return failure;
  }

  private backoffMs(attempt: number): number {
    return backoffDelay(attempt, {
      initialDelayMs: this.options.retry?.initialDelayMs ?? 5000,
      maxDelayMs: this.options.retry?.maxDelayMs ?? 15 * 60_000,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.endpoint.close();
    this.store.close();
  }
}

class ApiCallError extends Error {
  constructor(
    readonly endpoint: XEndpoint,
    override readonly cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause));
  }
}

/**
 * Tweet text as X returns it compared with what was posted: X v2 escapes &, < and > as HTML entities, and keeps
 * text NFC-normalized and trimmed.
 */
export function comparableText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').normalize('NFC').trim();
}
