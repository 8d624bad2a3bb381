import { checkTweetText, MAX_WEIGHTED_TWEET_LENGTH } from './text';

describe('tweet text validation (weighted as the X API counts)', () => {
  test('empty and blank texts are refused', () => {
    expect(checkTweetText('')).toEqual({ ok: false, reason: 'the tweet is empty' });
    expect(checkTweetText(' \n\t')).toEqual({ ok: false, reason: 'the tweet is empty' });
  });

  test('280 Latin characters pass, 281 do not', () => {
    expect(MAX_WEIGHTED_TWEET_LENGTH).toBe(280);
    expect(checkTweetText('a'.repeat(280))).toEqual({ ok: true, length: 280 });
    const refused = checkTweetText('a'.repeat(281));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/too long: 281 characters, the limit is 280/);
  });

  test('CJK characters and emoji weigh 2, a link 23', () => {
    expect(checkTweetText('漢'.repeat(140))).toEqual({ ok: true, length: 280 });
    expect(checkTweetText('漢'.repeat(141)).ok).toBe(false);
    expect(checkTweetText('👍🏽'.repeat(140))).toEqual({ ok: true, length: 280 });
    expect(checkTweetText('👍'.repeat(141)).ok).toBe(false);
    const link = `https://example.com/${'x'.repeat(300)}`;
    expect(checkTweetText(`${'a'.repeat(256)} ${link}`)).toEqual({ ok: true, length: 280 });
  });
});
