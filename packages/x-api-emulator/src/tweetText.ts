/**
 * Weighted tweet length as X counts it (twitter-text "v3" configuration), reimplemented without the twitter-text
 * package: text is NFC-normalized; each emoji sequence weighs 2; each URL weighs 23; code points in the Latin,
 * general-punctuation and similar ranges weigh 1; everything else (CJK, ...) weighs 2. The maximum is 280.
 *
 * Approximation: only URLs starting with http://, https:// or www. are recognized (twitter-text also recognizes
 * bare domains such as example.com by their TLD).
 */

export const MAX_WEIGHTED_TWEET_LENGTH = 280;
const SCALE = 100;
const DEFAULT_WEIGHT = 200;
const TRANSFORMED_URL_LENGTH = 23;
const LIGHT_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 4351],
  [8192, 8205],
  [8208, 8223],
  [8242, 8247],
];

const URL_REGEX = /(?:https?:\/\/|www\.)[^\s<>"]+[^\s<>".,:;!?)\]}'"]/giu;
const EMOJI_REGEX = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u;
const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

function codePointWeight(codePoint: number): number {
  return LIGHT_RANGES.some(([from, to]) => codePoint >= from && codePoint <= to) ? 100 : DEFAULT_WEIGHT;
}

function weightOfPlainText(text: string): number {
  let weight = 0;
  for (const { segment } of segmenter.segment(text)) {
    if (EMOJI_REGEX.test(segment)) {
      weight += DEFAULT_WEIGHT;
    } else {
      for (const char of segment) weight += codePointWeight(char.codePointAt(0)!);
    }
  }
  return weight;
}

export function weightedTweetLength(text: string): number {
  const normalized = text.normalize('NFC');
  let weight = 0;
  let last = 0;
  for (const match of normalized.matchAll(URL_REGEX)) {
    weight += weightOfPlainText(normalized.slice(last, match.index)) + TRANSFORMED_URL_LENGTH * SCALE;
    last = match.index! + match[0].length;
  }
  weight += weightOfPlainText(normalized.slice(last));
  return Math.ceil(weight / SCALE);
}
