/**
 * TypeScript view of the service messages in proto/twitter.proto, with encoders and strict decoders.
 * Decoders throw MalformedServiceMessageError for bytes that are not the message or lack a required field.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- protobufjs's toObject gives untyped objects; each reader below checks the fields it takes */
import { RelaynetError } from '@twitter-relaynet/core';
import type * as protobuf from 'protobufjs';

import {
  SUBSCRIPTION_STATUS_TYPE,
  TIMELINE_UPDATE_BATCH_TYPE,
  TWEET_OUTCOME_TYPE,
  TWEET_TYPE,
  UPDATE_SUBSCRIPTION_TYPE,
} from './mediaTypes';
import { lookupType } from './proto';

/** Content that is not the service message its type says (the service's only error). */
export class MalformedServiceMessageError extends RelaynetError {}

/** The user's X credentials (OAuth 1.0a user context), named as twitter-api-v2 names them. */
export interface UserCredentials {
  readonly accessToken: string;
  readonly accessSecret: string;
}

export interface Tweet {
  /** Client-generated id (a UUID): names the tweet in its TweetOutcome. */
  readonly id: string;
  /** At most MAX_WEIGHTED_TWEET_LENGTH as weightedTweetLength counts it (X refuses longer text). */
  readonly text: string;
  readonly credentials: UserCredentials;
  readonly creationDate: Date | null;
}

export interface UpdateSubscription {
  /** serializeDeliveryAuthorization({ pda, chain }) of @twitter-relaynet/endpoint. */
  readonly deliveryAuthorization: Buffer;
  readonly credentials: UserCredentials;
  readonly creationDate: Date | null;
}

export interface TimelineTweet {
  readonly id: string;
  readonly text: string;
  readonly authorId: string | null;
  readonly authorUsername: string;
  readonly authorName: string | null;
  readonly createdAt: Date | null;
  readonly url: string | null;
}

export interface TimelineUpdateBatch {
  /** Oldest first. */
  readonly tweets: readonly TimelineTweet[];
}

/** waiting: not final (the X API could not be reached yet; the adapter keeps trying). */
export type TweetOutcomeStatus = 'posted' | 'failed' | 'waiting';

export interface TweetOutcome {
  /** Tweet.id of the tweet this is about. */
  readonly tweetId: string;
  /** The id of the parcel that carried the Tweet (null if unknown). */
  readonly parcelId: string | null;
  readonly status: TweetOutcomeStatus;
  /** posted: the X tweet id and URL. */
  readonly xTweetId?: string;
  readonly url?: string;
  /** failed, waiting: the API's reason (the last one, while waiting), and its HTTP status (0 when no HTTP answer). */
  readonly reason?: string;
  readonly httpStatus?: number;
  /** When the adapter learned the outcome. */
  readonly date: Date | null;
}

/** waiting: the X API could not be reached yet (the adapter keeps trying). */
export type SubscriptionState = 'active' | 'failed' | 'waiting';

export interface SubscriptionStatus {
  readonly state: SubscriptionState;
  readonly reason?: string;
  readonly httpStatus?: number;
  readonly date: Date | null;
}

// ---------------------------------------------------------------------------------------------------------------

function encode(typeName: string, value: Record<string, unknown>): Buffer {
  const type = lookupType(typeName);
  const problem = type.verify(value);
  if (problem) throw new MalformedServiceMessageError(`Invalid ${typeName}: ${problem}`);
  return Buffer.from(type.encode(type.create(value)).finish());
}

function decode(typeName: string, bytes: Uint8Array): Record<string, any> {
  const type = lookupType(typeName);
  let message: protobuf.Message;
  try {
    // A plain Uint8Array view selects protobufjs's strict reader.
    message = type.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new MalformedServiceMessageError(`Malformed ${typeName}: ${(error as Error).message}`, { cause: error });
  }
  return type.toObject(message, { defaults: true, enums: Number, bytes: Buffer as any, longs: String });
}

function dateToWire(date: Date | null | undefined): string {
  return date ? date.toISOString() : '';
}

function dateFromWire(value: string, field: string, typeName: string): Date | null {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new MalformedServiceMessageError(`${typeName}.${field} is not a date: ${value}`);
  return date;
}

function required(value: string, field: string, typeName: string): string {
  if (!value) throw new MalformedServiceMessageError(`${typeName}.${field} is missing`);
  return value;
}

function credentialsToWire(credentials: UserCredentials): Record<string, string> {
  return { accessToken: credentials.accessToken, accessTokenSecret: credentials.accessSecret };
}

function credentialsFromWire(wire: any, typeName: string): UserCredentials {
  if (!wire) throw new MalformedServiceMessageError(`${typeName}.credentials is missing`);
  return {
    accessToken: required(wire.accessToken, 'credentials.access_token', typeName),
    accessSecret: required(wire.accessTokenSecret, 'credentials.access_token_secret', typeName),
  };
}

// Tweet ----------------------------------------------------------------------------------------------------------

export function encodeTweet(tweet: Tweet): Buffer {
  return encode('Tweet', {
    id: tweet.id,
    text: tweet.text,
    credentials: credentialsToWire(tweet.credentials),
    creationDate: dateToWire(tweet.creationDate),
  });
}

export function decodeTweet(bytes: Uint8Array): Tweet {
  const wire = decode('Tweet', bytes);
  return {
    id: required(wire.id, 'id', 'Tweet'),
    text: wire.text,
    credentials: credentialsFromWire(wire.credentials, 'Tweet'),
    creationDate: dateFromWire(wire.creationDate, 'creation_date', 'Tweet'),
  };
}

// UpdateSubscription ---------------------------------------------------------------------------------------------

export function encodeUpdateSubscription(subscription: UpdateSubscription): Buffer {
  return encode('UpdateSubscription', {
    deliveryAuthorization: subscription.deliveryAuthorization,
    credentials: credentialsToWire(subscription.credentials),
    creationDate: dateToWire(subscription.creationDate),
  });
}

export function decodeUpdateSubscription(bytes: Uint8Array): UpdateSubscription {
  const wire = decode('UpdateSubscription', bytes);
  const deliveryAuthorization = Buffer.from(wire.deliveryAuthorization ?? []);
  if (deliveryAuthorization.length === 0) {
    throw new MalformedServiceMessageError('UpdateSubscription.delivery_authorization is missing');
  }
  return {
    deliveryAuthorization,
    credentials: credentialsFromWire(wire.credentials, 'UpdateSubscription'),
    creationDate: dateFromWire(wire.creationDate, 'creation_date', 'UpdateSubscription'),
  };
}

// TimelineUpdateBatch --------------------------------------------------------------------------------------------

export function encodeTimelineUpdateBatch(batch: TimelineUpdateBatch): Buffer {
  return encode('TimelineUpdateBatch', {
    tweets: batch.tweets.map((tweet) => ({
      id: tweet.id,
      text: tweet.text,
      authorId: tweet.authorId ?? '',
      authorUsername: tweet.authorUsername,
      authorName: tweet.authorName ?? '',
      createdAt: dateToWire(tweet.createdAt),
      url: tweet.url ?? '',
    })),
  });
}

export function decodeTimelineUpdateBatch(bytes: Uint8Array): TimelineUpdateBatch {
  const wire = decode('TimelineUpdateBatch', bytes);
  return {
    tweets: (wire.tweets as any[]).map((tweet) => ({
      id: required(tweet.id, 'tweets.id', 'TimelineUpdateBatch'),
      text: tweet.text,
      authorId: tweet.authorId || null,
      authorUsername: tweet.authorUsername,
      authorName: tweet.authorName || null,
      createdAt: dateFromWire(tweet.createdAt, 'tweets.created_at', 'TimelineUpdateBatch'),
      url: tweet.url || null,
    })),
  };
}

// TweetOutcome ---------------------------------------------------------------------------------------------------

const OUTCOME_STATUS = { posted: 1, failed: 2, waiting: 3 } as const;

export function encodeTweetOutcome(outcome: TweetOutcome): Buffer {
  return encode('TweetOutcome', {
    tweetId: outcome.tweetId,
    parcelId: outcome.parcelId ?? '',
    status: OUTCOME_STATUS[outcome.status],
    xTweetId: outcome.xTweetId ?? '',
    url: outcome.url ?? '',
    reason: outcome.reason ?? '',
    httpStatus: outcome.httpStatus ?? 0,
    date: dateToWire(outcome.date),
  });
}

export function decodeTweetOutcome(bytes: Uint8Array): TweetOutcome {
  const wire = decode('TweetOutcome', bytes);
  const base = {
    tweetId: required(wire.tweetId, 'tweet_id', 'TweetOutcome'),
    parcelId: wire.parcelId || null,
    date: dateFromWire(wire.date, 'date', 'TweetOutcome'),
  };
  if (wire.status === OUTCOME_STATUS.posted) {
    return {
      ...base,
      status: 'posted',
      xTweetId: required(wire.xTweetId, 'x_tweet_id', 'TweetOutcome'),
      url: wire.url || undefined,
    };
  }
  if (wire.status === OUTCOME_STATUS.failed || wire.status === OUTCOME_STATUS.waiting) {
    const status = wire.status === OUTCOME_STATUS.failed ? 'failed' : 'waiting';
    return { ...base, status, reason: wire.reason || 'Unknown error', httpStatus: wire.httpStatus };
  }
  throw new MalformedServiceMessageError(`TweetOutcome.status is not POSTED, FAILED or WAITING (${wire.status})`);
}

// SubscriptionStatus ---------------------------------------------------------------------------------------------

const SUBSCRIPTION_STATE = { active: 1, failed: 2, waiting: 3 } as const;

export function encodeSubscriptionStatus(status: SubscriptionStatus): Buffer {
  return encode('SubscriptionStatus', {
    state: SUBSCRIPTION_STATE[status.state],
    reason: status.reason ?? '',
    httpStatus: status.httpStatus ?? 0,
    date: dateToWire(status.date),
  });
}

export function decodeSubscriptionStatus(bytes: Uint8Array): SubscriptionStatus {
  const wire = decode('SubscriptionStatus', bytes);
  const date = dateFromWire(wire.date, 'date', 'SubscriptionStatus');
  if (wire.state === SUBSCRIPTION_STATE.active)
    return { state: 'active', date, ...(wire.reason ? { reason: wire.reason } : {}) };
  if (wire.state === SUBSCRIPTION_STATE.failed || wire.state === SUBSCRIPTION_STATE.waiting) {
    const state = wire.state === SUBSCRIPTION_STATE.failed ? 'failed' : 'waiting';
    return { state, reason: wire.reason || 'Unknown error', httpStatus: wire.httpStatus, date };
  }
  throw new MalformedServiceMessageError(`SubscriptionStatus.state is not ACTIVE, FAILED or WAITING (${wire.state})`);
}

// By media type --------------------------------------------------------------------------------------------------

export type TwitterServiceMessage =
  | { readonly kind: 'tweet'; readonly message: Tweet }
  | { readonly kind: 'updateSubscription'; readonly message: UpdateSubscription }
  | { readonly kind: 'timelineUpdateBatch'; readonly message: TimelineUpdateBatch }
  | { readonly kind: 'tweetOutcome'; readonly message: TweetOutcome }
  | { readonly kind: 'subscriptionStatus'; readonly message: SubscriptionStatus };

/**
 * Decode a ServiceMessage's content by its media type. Null for a type that is not the Twitter service's;
 * throws MalformedServiceMessageError for malformed content.
 */
export function decodeServiceMessage(type: string, content: Uint8Array): TwitterServiceMessage | null {
  switch (type) {
    case TWEET_TYPE:
      return { kind: 'tweet', message: decodeTweet(content) };
    case UPDATE_SUBSCRIPTION_TYPE:
      return { kind: 'updateSubscription', message: decodeUpdateSubscription(content) };
    case TIMELINE_UPDATE_BATCH_TYPE:
      return { kind: 'timelineUpdateBatch', message: decodeTimelineUpdateBatch(content) };
    case TWEET_OUTCOME_TYPE:
      return { kind: 'tweetOutcome', message: decodeTweetOutcome(content) };
    case SUBSCRIPTION_STATUS_TYPE:
      return { kind: 'subscriptionStatus', message: decodeSubscriptionStatus(content) };
    default:
      return null;
  }
}

/** The ServiceMessage (type + content) for each message, ready for an endpoint's sendMessage(). */
export const serviceMessages = {
  tweet: (tweet: Tweet) => ({ type: TWEET_TYPE, content: encodeTweet(tweet) }),
  updateSubscription: (s: UpdateSubscription) => ({
    type: UPDATE_SUBSCRIPTION_TYPE,
    content: encodeUpdateSubscription(s),
  }),
  timelineUpdateBatch: (b: TimelineUpdateBatch) => ({
    type: TIMELINE_UPDATE_BATCH_TYPE,
    content: encodeTimelineUpdateBatch(b),
  }),
  tweetOutcome: (o: TweetOutcome) => ({ type: TWEET_OUTCOME_TYPE, content: encodeTweetOutcome(o) }),
  subscriptionStatus: (s: SubscriptionStatus) => ({
    type: SUBSCRIPTION_STATUS_TYPE,
    content: encodeSubscriptionStatus(s),
  }),
};

/** The public URL of a tweet on X. */
export function tweetUrl(username: string, tweetId: string): string {
  return `https://x.com/${username}/status/${tweetId}`;
}
