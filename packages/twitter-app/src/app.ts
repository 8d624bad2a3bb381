/**
 * twitter-app's logic, independent of the command line: a private endpoint behind the user gateway, the app's
 * store, the subscription to the home timeline (renewed before it lapses) and the tweets queued for the adapter.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';

import { ConfigurationError } from '@twitter-relaynet/config';
import {
  DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS,
  type Logger,
  MAX_TTL_SECONDS,
  silentLogger,
} from '@twitter-relaynet/core';
import {
  ConnectionParametersError,
  PoWebSocketGatewayTransport,
  PrivateEndpoint,
  readConnectionParameters,
  serializeDeliveryAuthorization,
  systemClock,
  type Clock,
  type GatewaySession,
  type GatewayTransport,
  type IncomingMessage,
  type PublicPeer,
} from '@twitter-relaynet/endpoint';

import type { AppPaths, LoadedCredentials } from './config';
import {
  AppError,
  type AppProblem,
  ExitCode,
  exitCodeOf,
  GatewayUnreachableError,
  IdentityRefusedError,
  isAppProblem,
} from './errors';
import * as service from './service';
import {
  AppStore,
  type OutcomeRecord,
  type OutgoingTweet,
  type StatusCounts,
  type SubscriptionRecord,
  type SubscriptionStatusRecord,
  type TimelineTweet,
} from './store';

/** Tweets are worth posting for a week; after that the parcel expires. */
export const TWEET_TTL_SECONDS = 7 * 24 * 3600;
/**
 * A message dated further ahead of this clock than gateways tolerate was made while this clock was ahead
 * (it has been set back since): no gateway whose clock is right takes it until that date.
 */
const MADE_AHEAD_MS = DEFAULT_CLOCK_DRIFT_TOLERANCE_SECONDS * 1000;
const madeAhead = (date: Date, now: number) => date.getTime() > now + MADE_AHEAD_MS;
/** The subscription lives as long as the protocol allows: a PDA and a parcel live at most 180 days. */
export const SUBSCRIPTION_TTL_SECONDS = MAX_TTL_SECONDS;
/** Renew the subscription when less than this fraction of its PDA's validity remains. */
export const SUBSCRIPTION_RENEWAL_FRACTION = 1 / 3;

export interface TwitterAppOptions {
  readonly paths: AppPaths;
  readonly credentials: LoadedCredentials;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** For tests: another transport than PoWebSocket over `paths.gatewaySocket`. */
  readonly transport?: GatewayTransport;
}

export type SubscriptionAction = 'subscribed' | 'renewed' | 'current';

export interface SubscriptionResult {
  readonly action: SubscriptionAction;
  /** Why it was (re)sent, when it was. */
  readonly reason?: string;
  readonly record: SubscriptionRecord;
}

export interface CollectResult {
  readonly tweets: number;
  readonly outcomes: number;
  readonly ignored: number;
  readonly refused: number;
}

export interface SendReport {
  /** Taken by the user gateway in this run, oldest first. */
  readonly sent: readonly OutgoingTweet[];
  /** Expired before the user gateway took them (now failed). */
  readonly expired: readonly OutgoingTweet[];
  /** How many are still queued in the app. */
  readonly queued: number;
  /** Why the others were not sent (the gateway not reachable, the adapter unknown); null if all were. */
  readonly problem: AppProblem | null;
  /** Made while this computer's clock was ahead: dated now in this run (sent with the others, or still queued). */
  readonly redated: readonly OutgoingTweet[];
}

/**
 * The failures that stop a run from reaching the adapter through the gateway but lose nothing: the user gateway
 * not reachable (or not taking parcels), the adapter's connection parameters missing.
 */
export function isReachProblem(error: unknown): error is AppProblem {
  return (
    isAppProblem(error) &&
    (exitCodeOf(error) === ExitCode.GATEWAY_UNREACHABLE || exitCodeOf(error) === ExitCode.CONFIGURATION)
  );
}

export interface StatusReport {
  readonly counts: StatusCounts;
  readonly endpointId: string;
  readonly registeredUntil: Date | null;
  readonly subscription: SubscriptionRecord | null;
  readonly subscriptionStatus: SubscriptionStatusRecord | null;
  readonly timeline: { readonly total: number; readonly unshown: number };
  readonly recent: readonly OutgoingTweet[];
}

/** Wraps the gateway transport so failures to reach the gateway become one clear error. */
class CheckedTransport implements GatewayTransport {
  constructor(
    private readonly inner: GatewayTransport,
    private readonly socketPath: string,
    private readonly checkSocket: boolean,
  ) {}

  private precheck(): void {
    if (!this.checkSocket) return;
    if (!existsSync(this.socketPath)) throw new GatewayUnreachableError(this.socketPath);
    if (!statSync(this.socketPath).isSocket()) throw new GatewayUnreachableError(this.socketPath, 'not a socket');
  }

  private wrap(error: unknown): Error {
    if (isAppProblem(error)) return error;
    const detail = (error as Error)?.message ?? String(error);
    // 1003: the handshake signature was not accepted, i.e. our certificate is not one this gateway issued.
    if ((error as Error)?.name === 'HandshakeError' && (error as { closeCode?: number }).closeCode === 1003) {
      return new IdentityRefusedError(this.socketPath, detail, { cause: error });
    }
    if ((error as Error)?.name === 'UntrustedSocketError') {
      return new AppError(
        `refusing the user gateway socket ${this.socketPath}: ${detail}`,
        ExitCode.GATEWAY_UNREACHABLE,
        {
          cause: error,
        },
      );
    }
    return new GatewayUnreachableError(this.socketPath, detail, { cause: error });
  }

  async register(publicKey: Buffer) {
    this.precheck();
    try {
      return await this.inner.register(publicKey);
    } catch (error) {
      throw this.wrap(error);
    }
  }

  async connect(credentials: Parameters<GatewayTransport['connect']>[0]): Promise<GatewaySession> {
    this.precheck();
    let session: GatewaySession;
    try {
      session = await this.inner.connect(credentials);
    } catch (error) {
      throw this.wrap(error);
    }
    return {
      deliverParcel: async (parcel) => {
        try {
          await session.deliverParcel(parcel);
        } catch (error) {
          throw new AppError(
            `the user gateway at ${this.socketPath} did not take a parcel: ${(error as Error).message}`,
            ExitCode.GATEWAY_UNREACHABLE,
            { cause: error },
          );
        }
      },
      collectParcels: (options) => session.collectParcels(options),
      close: () => session.close(),
    };
  }
}

function credentialsDigest(credentials: LoadedCredentials): string {
  return createHash('sha256').update(`${credentials.accessToken}\0${credentials.accessSecret}`).digest('hex');
}

export class TwitterApp {
  static async open(options: TwitterAppOptions): Promise<TwitterApp> {
    const store = AppStore.open(options.paths.dataDir);
    try {
      const logger = options.logger ?? silentLogger;
      const transport = new CheckedTransport(
        options.transport ?? new PoWebSocketGatewayTransport({ socketPath: options.paths.gatewaySocket, logger }),
        options.paths.gatewaySocket,
        !options.transport,
      );
      const endpoint = await PrivateEndpoint.open({
        dataDir: options.paths.dataDir,
        transport,
        logger,
        clock: options.clock,
      });
      return new TwitterApp(options, store, endpoint);
    } catch (error) {
      store.close();
      throw error;
    }
  }

  private readonly clock: Clock;
  private adapter: PublicPeer | null = null;

  private constructor(
    private readonly options: TwitterAppOptions,
    readonly store: AppStore,
    readonly endpoint: PrivateEndpoint,
  ) {
    this.clock = options.clock ?? systemClock;
  }

  get paths(): AppPaths {
    return this.options.paths;
  }

  /**
   * Register with the user gateway unless already certified (renews 30 days before expiry). When already
   * registered, check that the gateway still accepts our certificate (it may have been reset with a new
   * identity) and register again if not. An unreachable gateway is not an error here: the steps that need it
   * report it (so a tweet can still be queued locally).
   */
  async register(): Promise<'registered' | 're-registered' | null> {
    const before = this.endpoint.certificate;
    const certificate = await this.endpoint.register();
    if (before === null || !before.isEqual(certificate)) return 'registered';
    try {
      await this.endpoint.deliverParcels([]); // a handshake, nothing else
    } catch (error) {
      if (!(error instanceof IdentityRefusedError)) return null;
      await this.endpoint.register({ force: true });
      // Parcels made under the old certificate would be refused (and dropped) by the new gateway: make them again.
      this.store.forgetQueuedParcels();
      return 're-registered';
    }
    return null;
  }

  /** Read the adapter's published connection parameters and know it as a peer. */
  async loadAdapter(): Promise<PublicPeer> {
    if (this.adapter) return this.adapter;
    const path = this.options.paths.adapterParameters;
    let parameters;
    try {
      parameters = await readConnectionParameters(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ConfigurationError(
          `the Twitter API adapter's connection parameters are not at ${path}: start it with npm start ` +
            '(it publishes them), or pass --adapter-parameters',
          { cause: error },
        );
      }
      const detail = error instanceof ConnectionParametersError ? error.message : (error as Error).message;
      throw new ConfigurationError(`cannot use the adapter's connection parameters at ${path}: ${detail}`, {
        cause: error,
      });
    }
    this.adapter = await this.endpoint.addPublicPeer(parameters);
    return this.adapter;
  }

  private currentCertificateId(): string {
    const certificate = this.endpoint.certificate;
    if (!certificate) throw new AppError('not registered with the user gateway', ExitCode.FAILURE);
    return createHash('sha256').update(certificate.serialize()).digest('hex');
  }

  /** Why the subscription must be (re)sent now, or null if the current one is fine. */
  subscriptionRenewalReason(adapter: PublicPeer): string | null {
    const current = this.store.getSubscription();
    if (!current) return 'not subscribed yet';
    const now = this.clock.now().getTime();
    if (current.adapterId !== adapter.id) return 'the adapter has a new identity';
    if (current.endpointCertificateId !== this.currentCertificateId())
      return 'the user gateway issued us a new certificate';
    if (current.credentialsDigest !== credentialsDigest(this.options.credentials)) return 'the X credentials changed';
    if (madeAhead(current.sentAt, now)) return "it was made while this computer's clock was ahead";
    const validity = current.pdaExpiry.getTime() - current.pdaStart.getTime();
    const remaining = current.pdaExpiry.getTime() - now;
    if (remaining <= validity * SUBSCRIPTION_RENEWAL_FRACTION) {
      return remaining <= 0 ? 'the subscription expired' : 'less than a third of the subscription remains';
    }
    return null;
  }

  /**
   * Subscribe to the home timeline unless a current subscription exists (or `force`): issue the adapter a PDA
   * for as long as allowed and send it, with the user's credentials, in an UpdateSubscription message.
   */
  async ensureSubscription(options: { force?: boolean } = {}): Promise<SubscriptionResult> {
    const adapter = await this.loadAdapter();
    const existing = this.store.getSubscription();
    const reason = options.force ? 'requested' : this.subscriptionRenewalReason(adapter);
    if (reason === null) return { action: 'current', record: existing! };
    const now = this.clock.now();
    const authorization = await this.endpoint.issuePda(
      adapter.identityCertificate,
      new Date(now.getTime() + SUBSCRIPTION_TTL_SECONDS * 1000),
    );
    const content = service.encodeUpdateSubscription({
      pda: serializeDeliveryAuthorization(authorization),
      accessToken: this.options.credentials.accessToken,
      accessSecret: this.options.credentials.accessSecret,
      creationDate: now,
    });
    const ttlSeconds = Math.max(
      1,
      Math.min(SUBSCRIPTION_TTL_SECONDS, Math.floor((authorization.pda.expiryDate.getTime() - now.getTime()) / 1000)),
    );
    // One made while this clock was ahead is still held back at the user gateway (no gateway whose clock
    // is right takes it yet): the same parcel id replaces it there, so it never reaches the adapter late.
    const replacing = existing && madeAhead(existing.sentAt, now.getTime()) ? existing.parcelId : undefined;
    const parcel = await this.endpoint.makeParcel(
      adapter.id,
      { type: service.UPDATE_SUBSCRIPTION_TYPE, content },
      { ttlSeconds, parcelId: replacing },
    );
    await this.endpoint.deliverParcels([parcel]);
    const record: SubscriptionRecord = {
      adapterId: adapter.id,
      endpointCertificateId: this.currentCertificateId(),
      credentialsDigest: credentialsDigest(this.options.credentials),
      pdaStart: authorization.pda.startDate,
      pdaExpiry: authorization.pda.expiryDate,
      parcelId: parcel.parcelId,
      sentAt: this.clock.now(),
    };
    this.store.saveSubscription(record);
    return { action: existing ? 'renewed' : 'subscribed', reason, record };
  }

  /**
   * Tweets made while this computer's clock was ahead, and not answered yet: dated beyond the clock drift
   * tolerance of this clock as it is now, so no gateway whose clock is right takes them before that date
   * (the user gateway holds back those it has). Each is dated now and goes back to its text, keeping its parcel id
   * if it had one: `sendQueuedTweets` makes it again, and the user gateway replaces its held-back copy (same sender
   * and id); the adapter posts a tweet id once. Returns the tweets re-dated.
   */
  private redateTweetsMadeAhead(now: Date): OutgoingTweet[] {
    const ahead = this.store.listUnansweredTweetsDatedAfter(new Date(now.getTime() + MADE_AHEAD_MS));
    const expiresAt = new Date(now.getTime() + TWEET_TTL_SECONDS * 1000);
    return ahead.filter((tweet) => this.store.redateTweet(tweet.id, { createdAt: now, expiresAt }));
  }

  /**
   * Save the tweet as queued, before anything else is tried: its text only, so that it is kept even before the app
   * can make its parcel (not registered yet, the adapter unknown). `sendQueuedTweets` makes the parcel.
   */
  saveTweet(text: string): OutgoingTweet {
    const id = randomUUID();
    const createdAt = this.clock.now();
    this.store.addQueuedTweet({
      id,
      text,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + TWEET_TTL_SECONDS * 1000),
    });
    return this.store.getTweet(id)!;
  }

  /**
   * Give the user gateway every queued tweet, oldest first, making the parcel of those saved as text (a Tweet
   * message dated when it was typed, living what remains of its week). A tweet is `sent` once the gateway
   * acknowledged its parcel. The first failure to reach the gateway or to know the adapter stops the run and is
   * returned as `problem`: what was not sent stays queued. Queued tweets that expired are failed. Tweets made while
   * this clock was ahead are dated now first (`redated`): no gateway would take them before their dates.
   */
  async sendQueuedTweets(): Promise<SendReport> {
    const now = this.clock.now();
    const expired = this.store.expireQueuedTweets(now);
    const redated = this.redateTweetsMadeAhead(now);
    const sent: OutgoingTweet[] = [];
    let problem: AppProblem | null = null;
    for (const tweet of this.store.listQueuedTweets(now)) {
      try {
        const parcel = tweet.parcel ?? (await this.makeTweetParcel(tweet));
        await this.endpoint.deliverParcels([
          {
            parcelId: tweet.parcelId ?? '',
            recipientId: '',
            parcel,
            expiryDate: tweet.expiresAt,
            encryption: 'session',
          },
        ]);
      } catch (error) {
        if (!isReachProblem(error)) throw error;
        problem = error;
        break;
      }
      this.store.markTweetSent(tweet.id, this.clock.now());
      sent.push(this.store.getTweet(tweet.id)!);
    }
    return { sent, expired, queued: this.store.countTweets().queued, problem, redated };
  }

  /**
   * Make the parcel of a tweet saved as text: dated now, its message dated when the tweet was typed (or re-dated),
   * with the tweet's parcel id if it had one (a re-dated tweet: the copy replaces the one the gateway holds back).
   */
  private async makeTweetParcel(tweet: OutgoingTweet): Promise<Buffer> {
    const adapter = await this.loadAdapter();
    const content = service.encodeTweet({
      id: tweet.id,
      text: tweet.text,
      accessToken: this.options.credentials.accessToken,
      accessSecret: this.options.credentials.accessSecret,
      creationDate: tweet.createdAt,
    });
    // Rounded up: a tweet sent as soon as it is typed lives its full week.
    const ttlSeconds = Math.min(
      TWEET_TTL_SECONDS,
      Math.ceil((tweet.expiresAt.getTime() - this.clock.now().getTime()) / 1000),
    );
    const parcel = await this.endpoint.makeParcel(
      adapter.id,
      { type: service.TWEET_TYPE, content },
      { ttlSeconds, parcelId: tweet.parcelId ?? undefined },
    );
    // Kept before delivery: if the gateway does not ack, the same parcel goes next time.
    this.store.setTweetParcel(tweet.id, {
      parcelId: parcel.parcelId,
      parcel: parcel.parcel,
      expiresAt: parcel.expiryDate,
    });
    return parcel.parcel;
  }

  /**
   * Collect what the gateway holds for us (no keep-alive): each message is stored before its parcel is acked.
   * Messages of unknown types or that cannot be decoded are logged and dropped (acked), not retried forever.
   */
  async collect(onProblem: (problem: string) => void = () => undefined): Promise<CollectResult> {
    const counts = { tweets: 0, outcomes: 0, ignored: 0 };
    let handlerError: unknown = null;
    const onMessage = async (message: IncomingMessage): Promise<void> => {
      try {
        this.handleMessage(message, counts, onProblem);
      } catch (error) {
        handlerError = error;
        throw error;
      }
    };
    let report;
    try {
      report = await this.endpoint.collectMessages({ onMessage, keepAlive: false });
    } catch (error) {
      if (handlerError) throw handlerError;
      if (isAppProblem(error)) throw error;
      throw new GatewayUnreachableError(this.options.paths.gatewaySocket, (error as Error).message, { cause: error });
    }
    return { ...counts, refused: report.refused };
  }

  private handleMessage(
    message: IncomingMessage,
    counts: { tweets: number; outcomes: number; ignored: number },
    onProblem: (problem: string) => void,
  ): void {
    const receivedAt = this.clock.now();
    let decoded: service.IncomingServiceMessage | null;
    try {
      decoded = service.decodeIncoming(message.type, message.content);
    } catch (error) {
      counts.ignored += 1;
      onProblem(
        `ignored a malformed ${message.type} message (parcel ${message.parcelId}): ${(error as Error).message}`,
      );
      return;
    }
    if (!decoded) {
      counts.ignored += 1;
      onProblem(`ignored a message of unknown type ${message.type} (parcel ${message.parcelId})`);
      return;
    }
    if (decoded.kind === 'timeline') {
      counts.tweets += this.store.addTimelineTweets(decoded.tweets, receivedAt);
    } else if (decoded.kind === 'subscription-status') {
      this.store.recordSubscriptionStatus({
        state: decoded.state,
        reason: decoded.reason,
        httpStatus: decoded.httpStatus,
        date: decoded.date ?? receivedAt,
        receivedAt,
      });
    } else {
      const tweet =
        this.store.findTweet(decoded.tweetRef) ?? (decoded.parcelRef ? this.store.findTweet(decoded.parcelRef) : null);
      if (
        this.store.recordOutcome({
          parcelId: message.parcelId,
          tweetId: tweet?.id ?? decoded.tweetRef,
          status: decoded.status,
          xTweetId: decoded.xTweetId ?? null,
          xUrl: decoded.url ?? null,
          reason: decoded.reason ?? null,
          receivedAt,
        })
      ) {
        counts.outcomes += 1;
      }
    }
  }

  /** New (unshown) timeline tweets, outcomes and subscription status; mark them shown once printed. */
  unshown(): {
    tweets: TimelineTweet[];
    outcomes: OutcomeRecord[];
    subscriptionStatus: SubscriptionStatusRecord | null;
  } {
    const status = this.store.getSubscriptionStatus();
    return {
      tweets: this.store.listUnshownTimeline(),
      outcomes: this.store.listUnshownOutcomes(),
      subscriptionStatus: status && !status.shown ? status : null,
    };
  }

  /** The items were shown to the user: they are not news any more. */
  markShown(items: {
    tweets: readonly TimelineTweet[];
    outcomes: readonly OutcomeRecord[];
    subscriptionStatus: SubscriptionStatusRecord | null;
  }): void {
    if (items.subscriptionStatus) this.store.markSubscriptionStatusShown();
    this.store.markTimelineShown(items.tweets.map((tweet) => tweet.id));
    this.store.markOutcomesShown(items.outcomes.map((outcome) => outcome.parcelId));
  }

  /** What `status` shows, from the store only (no gateway contacted). */
  statusReport(recentLimit: number): StatusReport {
    return {
      counts: this.store.countTweets(),
      endpointId: this.endpoint.id,
      registeredUntil: this.endpoint.certificate?.expiryDate ?? null,
      subscription: this.store.getSubscription(),
      subscriptionStatus: this.store.getSubscriptionStatus(),
      timeline: this.store.countTimeline(),
      recent: this.store.listTweets(recentLimit),
    };
  }

  async close(): Promise<void> {
    await this.endpoint.close();
    this.store.close();
  }
}
