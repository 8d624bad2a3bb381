/** The adapter's side of the service messages, for the tests: packages/twitter-service's codecs. */
import {
  decodeTweet as decodeTweetMessage,
  decodeUpdateSubscription,
  serviceMessages,
  type TimelineTweet,
  type TweetOutcome,
} from '@twitter-relaynet/twitter-service';

export {
  TWEET_TYPE,
  UPDATE_SUBSCRIPTION_TYPE,
  TIMELINE_UPDATE_BATCH_TYPE,
  TWEET_OUTCOME_TYPE,
  SUBSCRIPTION_STATUS_TYPE,
  serviceMessages,
} from '@twitter-relaynet/twitter-service';

/** The UpdateSubscription as the adapter reads it, flattened for assertions. */
export function decodeSubscription(content: Buffer): {
  pda: Buffer;
  accessToken: string;
  accessSecret: string;
  creationDate: Date | null;
} {
  const message = decodeUpdateSubscription(content);
  return { pda: message.deliveryAuthorization, ...message.credentials, creationDate: message.creationDate };
}

/** The Tweet as the adapter reads it, flattened for assertions. */
export function decodeTweet(content: Buffer): {
  id: string;
  text: string;
  accessToken: string;
  accessSecret: string;
  creationDate: Date | null;
} {
  const message = decodeTweetMessage(content);
  return { id: message.id, text: message.text, ...message.credentials, creationDate: message.creationDate };
}

export interface BatchTweet {
  id: string;
  authorUsername: string;
  authorName?: string;
  text: string;
  createdAt: Date;
}

export function encodeTimelineBatch(tweets: BatchTweet[]): { type: string; content: Buffer } {
  const full: TimelineTweet[] = tweets.map((tweet) => ({
    id: tweet.id,
    text: tweet.text,
    authorId: null,
    authorUsername: tweet.authorUsername,
    authorName: tweet.authorName ?? null,
    createdAt: tweet.createdAt,
    url: `https://x.com/${tweet.authorUsername}/status/${tweet.id}`,
  }));
  return serviceMessages.timelineUpdateBatch({ tweets: full });
}

export function encodeOutcome(outcome: Omit<TweetOutcome, 'date' | 'parcelId'> & { parcelId?: string }): {
  type: string;
  content: Buffer;
} {
  return serviceMessages.tweetOutcome({ parcelId: null, date: new Date(), ...outcome } as TweetOutcome);
}
