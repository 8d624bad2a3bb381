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

  test('counts bare domains as URLs, as X does', () => {
    expect(weightedTweetLength('see example.com')).toBe(4 + 23);
    expect(weightedTweetLength('Example.COM/a/very/long/path/that/goes/on, and on')).toBe(23 + 8);
    expect(weightedTweetLength('docs.example.org and news.bbc.co.uk')).toBe(23 + 5 + 23);
    expect(weightedTweetLength('www.example.co or blog.example.co')).toBe(23 + 4 + 23);
    expect(weightedTweetLength('example.co/x and t.co')).toBe(23 + 5 + 23);
  });

  test('leaves as text what X leaves as text', () => {
    // One name under a country code with no path, an unknown top-level domain, an e-mail address, a hashtag.
    expect(weightedTweetLength('example.co')).toBe(10);
    expect(weightedTweetLength('node.js rocks')).toBe(13);
    expect(weightedTweetLength('see the.end.Next')).toBe(16);
    expect(weightedTweetLength('me@example.com')).toBe(14);
    expect(weightedTweetLength('#example.com')).toBe(12);
    expect(weightedTweetLength('example.community')).toBe(17);
  });

  test('normalizes to NFC first', () => {
    expect(weightedTweetLength('e\u0301')).toBe(1);
  });
});
