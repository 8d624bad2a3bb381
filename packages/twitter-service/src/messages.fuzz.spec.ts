/**
 * Fuzzing of the Twitter service's protobuf codecs (proto/twitter.proto), through
 * `decodeServiceMessage` as the app and the adapter call it: arbitrary bytes and mutated valid
 * encodings of each of the five messages decode or raise MalformedServiceMessageError, nothing
 * else; decoded messages have the field types the app and the adapter rely on; valid ones round-trip.
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see test-support/src/fuzz.ts).
 */
import fc from 'fast-check';

import {
  applyMutations,
  arbitraryBytes,
  expectTypedOutcome,
  FuzzCounter,
  fuzzParameters,
  FUZZ_TEST_TIMEOUT_MS,
  mutations,
} from '@twitter-relaynet/test-support';

import { decodeServiceMessage, MalformedServiceMessageError, serviceMessages, type TwitterServiceMessage } from '.';

const counter = new FuzzCounter('twitter service messages');
afterAll(() => counter.report());

const text = fc.string({ maxLength: 40 });
const nonEmpty = fc.string({ minLength: 1, maxLength: 20 });
const date = fc.option(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }), { nil: null });
const credentials = fc.record({ accessToken: nonEmpty, accessSecret: nonEmpty });

const valid: fc.Arbitrary<{ type: string; content: Buffer }> = fc.oneof(
  fc.record({ id: nonEmpty, text, credentials, creationDate: date }).map(serviceMessages.tweet),
  fc
    .record({
      deliveryAuthorization: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
      credentials,
      creationDate: date,
    })
    .map(serviceMessages.updateSubscription),
  fc
    .array(
      fc.record({
        id: nonEmpty,
        text,
        authorId: fc.option(nonEmpty, { nil: null }),
        authorUsername: text,
        authorName: fc.option(nonEmpty, { nil: null }),
        createdAt: date,
        url: fc.option(nonEmpty, { nil: null }),
      }),
      { maxLength: 3 },
    )
    .map((tweets) => serviceMessages.timelineUpdateBatch({ tweets })),
  fc
    .oneof(
      fc.record({
        tweetId: nonEmpty,
        parcelId: fc.option(nonEmpty, { nil: null }),
        status: fc.constant('posted' as const),
        xTweetId: nonEmpty,
        date,
      }),
      fc.record({
        tweetId: nonEmpty,
        parcelId: fc.option(nonEmpty, { nil: null }),
        status: fc.constantFrom('failed' as const, 'waiting' as const),
        reason: nonEmpty,
        httpStatus: fc.nat(599),
        date,
      }),
    )
    .map((outcome) => serviceMessages.tweetOutcome(outcome)),
  fc
    .oneof(
      fc.record({ state: fc.constant('active' as const), date }),
      fc.record({
        state: fc.constantFrom('failed' as const, 'waiting' as const),
        reason: nonEmpty,
        httpStatus: fc.nat(599),
        date,
      }),
    )
    .map((status) => serviceMessages.subscriptionStatus(status)),
);

function checkShape(decoded: TwitterServiceMessage): void {
  const isDate = (d: unknown) => d === null || (d instanceof Date && !Number.isNaN(d.getTime()));
  switch (decoded.kind) {
    case 'tweet':
      expect(typeof decoded.message.id).toBe('string');
      expect(typeof decoded.message.text).toBe('string');
      expect(isDate(decoded.message.creationDate)).toBe(true);
      break;
    case 'updateSubscription':
      expect(Buffer.isBuffer(decoded.message.deliveryAuthorization)).toBe(true);
      break;
    case 'timelineUpdateBatch':
      for (const tweet of decoded.message.tweets) {
        expect(typeof tweet.id).toBe('string');
        expect(isDate(tweet.createdAt)).toBe(true);
      }
      break;
    case 'tweetOutcome':
      expect(['posted', 'failed', 'waiting']).toContain(decoded.message.status);
      expect(isDate(decoded.message.date)).toBe(true);
      break;
    case 'subscriptionStatus':
      expect(['active', 'failed', 'waiting']).toContain(decoded.message.state);
      break;
  }
}

const MEDIA_TYPES = [
  'application/vnd.relaynet.twitter.tweet+protobuf',
  'application/vnd.relaynet.twitter.update-subscription+protobuf',
  'application/vnd.relaynet.twitter.timeline-update-batch+protobuf',
  'application/vnd.relaynet.twitter.tweet-outcome+protobuf',
  'application/vnd.relaynet.twitter.subscription-status+protobuf',
];

function check(type: string, content: Buffer): void {
  const decoded = expectTypedOutcome(() => decodeServiceMessage(type, content), [MalformedServiceMessageError], {
    type,
    content: content.toString('hex'),
  });
  if (decoded) checkShape(decoded);
}

test("sanity: the media types under test are the service's", () => {
  // An unknown type decodes to null; each of ours is decoded (here: refused as incomplete, or accepted).
  expect(decodeServiceMessage('text/plain', Buffer.alloc(0))).toBeNull();
  for (const type of MEDIA_TYPES) {
    expect(
      expectTypedOutcome(() => decodeServiceMessage(type, Buffer.alloc(0)), [MalformedServiceMessageError], type),
    ).not.toBeNull();
  }
});

test(
  'arbitrary bytes under each media type decode or raise MalformedServiceMessageError',
  () => {
    fc.assert(
      fc.property(fc.constantFrom(...MEDIA_TYPES), arbitraryBytes, (type, content) => {
        counter.count();
        check(type, content);
      }),
      fuzzParameters('twitter / bytes'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'mutated valid messages (also under the wrong media type) decode or raise MalformedServiceMessageError',
  () => {
    fc.assert(
      fc.property(valid, mutations, fc.option(fc.constantFrom(...MEDIA_TYPES)), (message, list, otherType) => {
        counter.count();
        check(otherType ?? message.type, applyMutations(message.content, list));
      }),
      fuzzParameters('twitter / mutations'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'valid messages decode',
  () => {
    fc.assert(
      fc.property(valid, (message) => {
        counter.count();
        const decoded = decodeServiceMessage(message.type, message.content);
        expect(decoded).not.toBeNull();
        checkShape(decoded!);
      }),
      fuzzParameters('twitter / valid'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);
