/** Tweet text validation, counted as the X API counts (the Tweet message's weighted length). */
import { UsageError } from '@twitter-relaynet/config';
import { MAX_WEIGHTED_TWEET_LENGTH, weightedTweetLength } from '@twitter-relaynet/twitter-service';

export { MAX_WEIGHTED_TWEET_LENGTH, weightedTweetLength };

export type TextCheck =
  { readonly ok: true; readonly length: number } | { readonly ok: false; readonly reason: string };

export function checkTweetText(text: string): TextCheck {
  if (text.trim() === '') return { ok: false, reason: 'the tweet is empty' };
  const length = weightedTweetLength(text);
  if (length > MAX_WEIGHTED_TWEET_LENGTH) {
    return {
      ok: false,
      reason:
        `the tweet is too long: ${length} characters, the limit is ${MAX_WEIGHTED_TWEET_LENGTH} ` +
        '(counted as X counts them: CJK characters and emoji count 2, links 23)',
    };
  }
  return { ok: true, length };
}

/** Throws a UsageError (exit 2) unless the text can be posted. */
export function assertTweetText(text: string): void {
  const check = checkTweetText(text);
  if (!check.ok) throw new UsageError(check.reason);
}
