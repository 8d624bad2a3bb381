/**
 * The length limit of a Tweet's text, counted as X counts it (twitter-text's "v3" configuration), reimplemented
 * without the twitter-text package: text is NFC-normalized; each emoji sequence weighs 2; each URL weighs 23; code
 * points in the Latin, general-punctuation and similar ranges weigh 1; everything else (CJK, ...) weighs 2. The
 * maximum is 280. The app refuses longer text before it is sent and the X API emulator refuses it as X does.
 *
 * URLs are those starting with http://, https:// or www., and bare domains such as `example.com` or
 * `example.co/path`, as twitter-text finds them: the domain must end in a known top-level domain and must not follow
 * a letter, digit, `@`, `#`, `$`, `-`, `_`, `.` or `/`; a single name under a country-code domain with no path
 * (`example.co`, `node.js`) is text, except `t.co`. Approximation: twitter-text knows every IANA top-level domain;
 * here every country code and the common generic domains below are known, so `example.museum` still counts as text.
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

const URL_END = `[^\\s<>".,:;!?)\\]}'"]`;
const PROTOCOL_URL_REGEX = new RegExp(`(?:https?:\\/\\/|www\\.)[^\\s<>"]+${URL_END}`, 'giu');
const BARE_DOMAIN_REGEX = new RegExp(
  '(?<![\\p{L}\\p{N}@＠#＃$_./-])' +
    '((?:[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?\\.)+)([a-z]{2,63})(?![\\p{L}\\p{N}@+_-])' +
    `(\\/(?:[^\\s<>"]*${URL_END})?)?`,
  'giu',
);
const GENERIC_TLDS: ReadonlySet<string> = new Set(
  (
    'com net org info biz edu gov mil int name pro aero coop museum mobi asia tel travel jobs cat post ' +
    'app dev page blog shop store online site website tech xyz club top art cloud news live life world space ' +
    'design digital email link media network social software studio systems today agency group company ' +
    'solutions services center academy games photo photography music video wiki zone one'
  ).split(' '),
);
// Intl knows the ISO 3166 regions; these of its codes are not country-code top-level domains, and uk is one.
const NOT_COUNTRY_TLDS: ReadonlySet<string> = new Set(['ez', 'qo', 'un', 'xa', 'xb', 'zz']);
const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

const EMOJI_REGEX = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u;
const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

function isCountryTld(tld: string): boolean {
  if (tld.length !== 2 || NOT_COUNTRY_TLDS.has(tld)) return false;
  return tld === 'uk' || regionNames.of(tld.toUpperCase()) !== undefined;
}

function isBareDomainUrl(labels: string, tld: string, path: string | undefined): boolean {
  const lowerTld = tld.toLowerCase();
  if (GENERIC_TLDS.has(lowerTld)) return true;
  if (!isCountryTld(lowerTld)) return false;
  const isSingleName = labels.indexOf('.') === labels.length - 1;
  return !isSingleName || path !== undefined || `${labels}${tld}`.toLowerCase() === 't.co';
}

/** [start, end) of each URL in `text`, in order. */
function urlSpans(text: string): Array<readonly [number, number]> {
  const spans: Array<readonly [number, number]> = [];
  const addBareDomains = (from: number, to: number): void => {
    for (const match of text.slice(from, to).matchAll(BARE_DOMAIN_REGEX)) {
      if (isBareDomainUrl(match[1], match[2], match[3])) {
        spans.push([from + match.index!, from + match.index! + match[0].length]);
      }
    }
  };
  let last = 0;
  for (const match of text.matchAll(PROTOCOL_URL_REGEX)) {
    addBareDomains(last, match.index!);
    spans.push([match.index!, match.index! + match[0].length]);
    last = match.index! + match[0].length;
  }
  addBareDomains(last, text.length);
  return spans;
}

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
  for (const [start, end] of urlSpans(normalized)) {
    weight += weightOfPlainText(normalized.slice(last, start)) + TRANSFORMED_URL_LENGTH * SCALE;
    last = end;
  }
  weight += weightOfPlainText(normalized.slice(last));
  return Math.ceil(weight / SCALE);
}
