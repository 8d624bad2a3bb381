import * as fs from 'node:fs';
import * as protobuf from 'protobufjs';

import {
  decodeServiceMessage,
  decodeSubscriptionStatus,
  decodeTimelineUpdateBatch,
  decodeTweet,
  decodeTweetOutcome,
  decodeUpdateSubscription,
  encodeSubscriptionStatus,
  encodeTimelineUpdateBatch,
  encodeTweet,
  encodeTweetOutcome,
  encodeUpdateSubscription,
  findProtoFile,
  MalformedServiceMessageError,
  serviceMessages,
  SUBSCRIPTION_STATUS_TYPE,
  TIMELINE_UPDATE_BATCH_TYPE,
  TWEET_OUTCOME_TYPE,
  TWEET_TYPE,
  UPDATE_SUBSCRIPTION_TYPE,
} from '.';

const credentials = { accessToken: '1-token', accessSecret: 'secret' };
const date = new Date('2026-01-02T03:04:05.678Z');

describe('media types', () => {
  test('are distinct protobuf media types', () => {
    const types = [
      TWEET_TYPE,
      UPDATE_SUBSCRIPTION_TYPE,
      TIMELINE_UPDATE_BATCH_TYPE,
      TWEET_OUTCOME_TYPE,
      SUBSCRIPTION_STATUS_TYPE,
    ];
    expect(new Set(types).size).toBe(5);
    for (const type of types) expect(type).toMatch(/^application\/vnd\.relaynet\.twitter\.[a-z-]+\+protobuf$/);
  });
});

describe('round trips', () => {
  test('Tweet', () => {
    const tweet = { id: 'a-uuid', text: 'Hello ☕ world', credentials, creationDate: date };
    expect(decodeTweet(encodeTweet(tweet))).toEqual(tweet);
    expect(decodeTweet(encodeTweet({ ...tweet, creationDate: null }))).toEqual({ ...tweet, creationDate: null });
  });

  test('UpdateSubscription', () => {
    const subscription = { deliveryAuthorization: Buffer.from([1, 2, 3, 255]), credentials, creationDate: date };
    const decoded = decodeUpdateSubscription(encodeUpdateSubscription(subscription));
    expect(decoded).toEqual(subscription);
    expect(Buffer.isBuffer(decoded.deliveryAuthorization)).toBe(true);
  });

  test('TimelineUpdateBatch', () => {
    const batch = {
      tweets: [
        {
          id: '1746000000000000101',
          text: 'one',
          authorId: '42',
          authorUsername: 'courier_cat',
          authorName: 'Courier Cat',
          createdAt: date,
          url: 'https://x.com/courier_cat/status/1746000000000000101',
        },
        {
          id: '1746000000000000102',
          text: 'two',
          authorId: null,
          authorUsername: 'awala_news',
          authorName: null,
          createdAt: null,
          url: null,
        },
      ],
    };
    expect(decodeTimelineUpdateBatch(encodeTimelineUpdateBatch(batch))).toEqual(batch);
    expect(decodeTimelineUpdateBatch(encodeTimelineUpdateBatch({ tweets: [] }))).toEqual({ tweets: [] });
  });

  test('TweetOutcome posted and failed', () => {
    const posted = {
      tweetId: 't1',
      parcelId: 'p1',
      status: 'posted' as const,
      xTweetId: '1746000000000000200',
      url: 'https://x.com/u/status/1746000000000000200',
      date,
    };
    expect(decodeTweetOutcome(encodeTweetOutcome(posted))).toEqual(posted);
    const failed = {
      tweetId: 't2',
      parcelId: null,
      status: 'failed' as const,
      reason: 'duplicate content',
      httpStatus: 403,
      date,
    };
    expect(decodeTweetOutcome(encodeTweetOutcome(failed))).toEqual(failed);
  });

  test('TweetOutcome waiting (not final): on the wire as WAITING = 3, with the last failure', () => {
    const waiting = {
      tweetId: 't3',
      parcelId: 'p3',
      status: 'waiting' as const,
      reason: 'Network error: getaddrinfo ENOTFOUND api.x.com',
      httpStatus: 0,
      date,
    };
    const bytes = encodeTweetOutcome(waiting);
    expect(decodeTweetOutcome(bytes)).toEqual(waiting);
    const Outcome = protobuf
      .parse(fs.readFileSync(findProtoFile(), 'utf8'))
      .root.lookupType('relaynet.twitter.TweetOutcome');
    expect(Outcome.toObject(Outcome.decode(bytes), { enums: String })).toMatchObject({ status: 'WAITING' });
  });

  test('SubscriptionStatus', () => {
    expect(decodeSubscriptionStatus(encodeSubscriptionStatus({ state: 'active', date }))).toEqual({
      state: 'active',
      date,
    });
    const failed = { state: 'failed' as const, reason: 'Unauthorized', httpStatus: 401, date };
    expect(decodeSubscriptionStatus(encodeSubscriptionStatus(failed))).toEqual(failed);
    const waiting = {
      state: 'waiting' as const,
      reason: 'Network error: connect ECONNREFUSED 127.0.0.1:9',
      httpStatus: 0,
      date,
    };
    expect(decodeSubscriptionStatus(encodeSubscriptionStatus(waiting))).toEqual(waiting);
  });

  test('decodeServiceMessage dispatches on the media type', () => {
    const message = serviceMessages.tweet({ id: 'x', text: 'hi', credentials, creationDate: null });
    expect(message.type).toBe(TWEET_TYPE);
    expect(decodeServiceMessage(message.type, message.content)).toEqual({
      kind: 'tweet',
      message: decodeTweet(message.content),
    });
    expect(decodeServiceMessage('text/plain', Buffer.from('hi'))).toBeNull();
  });
});

describe('malformed content', () => {
  test('garbage bytes', () => {
    expect(() => decodeTweet(Buffer.from([0xff, 0xff, 0xff]))).toThrow(MalformedServiceMessageError);
  });

  test('missing required fields are named', () => {
    expect(() => decodeTweet(encodeTweet({ id: '', text: 'x', credentials, creationDate: null }))).toThrow(
      /Tweet\.id is missing/,
    );
    expect(() =>
      decodeTweet(
        encodeTweet({ id: 'a', text: 'x', credentials: { accessToken: '', accessSecret: 's' }, creationDate: null }),
      ),
    ).toThrow(/access_token is missing/);
    expect(() =>
      decodeUpdateSubscription(
        encodeUpdateSubscription({ deliveryAuthorization: Buffer.alloc(0), credentials, creationDate: null }),
      ),
    ).toThrow(/delivery_authorization is missing/);
    expect(() => decodeTweetOutcome(Buffer.alloc(0))).toThrow(MalformedServiceMessageError);
  });
});

describe('wire compatibility', () => {
  test('encodings are plain protobufjs encodings of proto/twitter.proto', () => {
    const root = protobuf.parse(fs.readFileSync(findProtoFile(), 'utf8')).root;
    const Tweet = root.lookupType('relaynet.twitter.Tweet');
    const bytes = Tweet.encode(
      Tweet.create({
        id: 'a',
        text: 'b',
        credentials: { accessToken: 'c', accessTokenSecret: 'd' },
        creationDate: date.toISOString(),
      }),
    ).finish();
    expect(decodeTweet(bytes)).toEqual({
      id: 'a',
      text: 'b',
      credentials: { accessToken: 'c', accessSecret: 'd' },
      creationDate: date,
    });
  });
});
