/**
 * The app's view of the Twitter service messages (packages/twitter-service, proto/twitter.proto): what it sends
 * (Tweet, UpdateSubscription) and what it receives (TimelineUpdateBatch, TweetOutcome, SubscriptionStatus).
 */
import {
  decodeServiceMessage,
  encodeTweet as encodeTweetMessage,
  encodeUpdateSubscription as encodeUpdateSubscriptionMessage,
  SUBSCRIPTION_STATUS_TYPE,
  TIMELINE_UPDATE_BATCH_TYPE,
  TWEET_OUTCOME_TYPE,
  TWEET_TYPE,
  UPDATE_SUBSCRIPTION_TYPE,
} from '@twitter-relaynet/twitter-service';

export {
  TWEET_TYPE,
  UPDATE_SUBSCRIPTION_TYPE,
  TIMELINE_UPDATE_BATCH_TYPE,
  TWEET_OUTCOME_TYPE,
  SUBSCRIPTION_STATUS_TYPE,
};

export interface TweetFields {
  readonly id: string;
  readonly text: string;
  readonly accessToken: string;
  readonly accessSecret: string;
  readonly creationDate: Date;
}

export interface SubscriptionFields {
  /** serializeDeliveryAuthorization({ pda, chain }). */
  readonly pda: Buffer;
  readonly accessToken: string;
  readonly accessSecret: string;
  readonly creationDate: Date;
}

export type IncomingServiceMessage =
  | {
      readonly kind: 'timeline';
      readonly tweets: ReadonlyArray<{
        id: string;
        authorUsername: string;
        authorName: string | null;
        text: string;
        url: string | null;
        createdAt: Date | null;
      }>;
    }
  | {
      readonly kind: 'outcome';
      /** Our tweet's id (Tweet.id). */
      readonly tweetRef: string;
      /** The id of the parcel that carried it, if the adapter said. */
      readonly parcelRef: string | null;
      /** waiting: not final; the adapter could not reach the X API yet and keeps trying. */
      readonly status: 'posted' | 'failed' | 'waiting';
      readonly xTweetId?: string;
      readonly url?: string;
      readonly reason?: string;
    }
  | {
      readonly kind: 'subscription-status';
      readonly state: 'active' | 'failed' | 'waiting';
      readonly reason: string | null;
      readonly httpStatus: number | null;
      readonly date: Date | null;
    };

export function encodeTweet(fields: TweetFields): Buffer {
  return encodeTweetMessage({
    id: fields.id,
    text: fields.text,
    credentials: { accessToken: fields.accessToken, accessSecret: fields.accessSecret },
    creationDate: fields.creationDate,
  });
}

export function encodeUpdateSubscription(fields: SubscriptionFields): Buffer {
  return encodeUpdateSubscriptionMessage({
    deliveryAuthorization: fields.pda,
    credentials: { accessToken: fields.accessToken, accessSecret: fields.accessSecret },
    creationDate: fields.creationDate,
  });
}

/**
 * What the app does with a message from the adapter. Null for a type this app does not handle (including the
 * app-to-adapter ones); throws (MalformedServiceMessageError) if the content is malformed.
 */
export function decodeIncoming(type: string, content: Buffer): IncomingServiceMessage | null {
  const decoded = decodeServiceMessage(type, content);
  if (!decoded) return null;
  switch (decoded.kind) {
    case 'timelineUpdateBatch':
      return {
        kind: 'timeline',
        tweets: decoded.message.tweets.map((tweet) => ({
          id: tweet.id,
          authorUsername: tweet.authorUsername,
          authorName: tweet.authorName,
          text: tweet.text,
          url: tweet.url,
          createdAt: tweet.createdAt,
        })),
      };
    case 'tweetOutcome': {
      const outcome = decoded.message;
      const reason =
        outcome.status !== 'posted'
          ? `${outcome.reason ?? 'unknown error'}${outcome.httpStatus ? ` (HTTP ${outcome.httpStatus})` : ''}`
          : undefined;
      return {
        kind: 'outcome',
        tweetRef: outcome.tweetId,
        parcelRef: outcome.parcelId,
        status: outcome.status,
        xTweetId: outcome.xTweetId,
        url: outcome.url,
        reason,
      };
    }
    case 'subscriptionStatus':
      return {
        kind: 'subscription-status',
        state: decoded.message.state,
        reason: decoded.message.reason ?? null,
        httpStatus: decoded.message.httpStatus || null,
        date: decoded.message.date,
      };
    default:
      return null; // Tweet and UpdateSubscription go the other way
  }
}
