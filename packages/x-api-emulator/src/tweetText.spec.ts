import { MAX_WEIGHTED_TWEET_LENGTH, weightedTweetLength } from './tweetText';

describe('weightedTweetLength', () => {
  test('counts Latin text one per character', () => {
    expect(weightedTweetLength('hello')).toBe(5);
    expect(weightedTweetLength('a'.repeat(MAX_WEIGHTED_TWEET_LENGTH))).toBe(280);
  });

  test('counts CJK characters and emoji as two', () => {
    expect(weightedTweetLength('日本語')).toBe(6);
    expect(weightedTweetLength('👍')).toBe(2);
    expect(weightedTweetLength('👨‍👩‍👧‍👦')).toBe(2); // one ZWJ sequence
    expect(weightedTweetLength('🇬🇧')).toBe(2);
  });

  test('counts every URL as 23', () => {
    expect(weightedTweetLength('see https://example.com/a/very/long/path/that/goes/on/and/on')).toBe(4 + 23);
    expect(weightedTweetLength('www.example.com.')).toBe(23 + 1);
  });

  test('normalizes to NFC first', () => {
    expect(weightedTweetLength('e\u0301')).toBe(1);
  });
});
