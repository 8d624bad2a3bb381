/** The X API v2 endpoints: routing, parameter validation and response bodies. */
import { MAX_WEIGHTED_TWEET_LENGTH, weightedTweetLength } from '@twitter-relaynet/twitter-service';

import { type ParamList } from './oauth1';
import {
  type ApiProblem,
  duplicateContent,
  forbidden,
  type InvalidParameter,
  invalidRequest,
  notFoundRoute,
  textTooLong,
  tweetNotFoundPartialError,
} from './problems';
import type { EndpointName } from './rateLimits';
import type { Store, Tweet, User } from './store';

export interface ApiRoute {
  readonly endpoint: EndpointName;
  readonly pathParams: Readonly<Record<string, string>>;
}

/** Match a method and path to one of the emulated endpoints. */
export function matchRoute(method: string, path: string): ApiRoute | undefined {
  if (method === 'POST' && path === '/2/tweets') return { endpoint: 'POST /2/tweets', pathParams: {} };
  if (method !== 'GET') return undefined;
  if (path === '/2/users/me') return { endpoint: 'GET /2/users/me', pathParams: {} };
  let match = /^\/2\/users\/([^/]+)\/timelines\/reverse_chronological$/.exec(path);
  if (match) {
    return { endpoint: 'GET /2/users/:id/timelines/reverse_chronological', pathParams: { id: decodePath(match[1]) } };
  }
  match = /^\/2\/tweets\/([^/]+)$/.exec(path);
  if (match) return { endpoint: 'GET /2/tweets/:id', pathParams: { id: decodePath(match[1]) } };
  return undefined;
}

function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export interface ApiRequest {
  readonly route: ApiRoute;
  readonly query: ParamList;
  readonly contentType: string | undefined;
  readonly body: Buffer;
  readonly me: User;
  readonly now: number;
}

export type ApiResult = { readonly status: number; readonly body: unknown } | ApiProblem;

// Field and expansion names the real API accepts; the emulator fills in the supported subset and omits the rest.
const TWEET_FIELDS = [
  'article',
  'attachments',
  'author_id',
  'card_uri',
  'community_id',
  'context_annotations',
  'conversation_id',
  'created_at',
  'display_text_range',
  'edit_controls',
  'edit_history_tweet_ids',
  'entities',
  'geo',
  'id',
  'in_reply_to_user_id',
  'lang',
  'media_metadata',
  'non_public_metrics',
  'note_tweet',
  'organic_metrics',
  'possibly_sensitive',
  'promoted_metrics',
  'public_metrics',
  'referenced_tweets',
  'reply_settings',
  'scopes',
  'source',
  'text',
  'withheld',
];
const USER_FIELDS = [
  'affiliation',
  'connection_status',
  'created_at',
  'description',
  'entities',
  'id',
  'location',
  'most_recent_tweet_id',
  'name',
  'pinned_tweet_id',
  'profile_banner_url',
  'profile_image_url',
  'protected',
  'public_metrics',
  'receives_your_dm',
  'subscription_type',
  'url',
  'username',
  'verified',
  'verified_type',
  'withheld',
];
const MEDIA_FIELDS = [
  'alt_text',
  'duration_ms',
  'height',
  'media_key',
  'non_public_metrics',
  'organic_metrics',
  'preview_image_url',
  'promoted_metrics',
  'public_metrics',
  'type',
  'url',
  'variants',
  'width',
];
const PLACE_FIELDS = ['contained_within', 'country', 'country_code', 'full_name', 'geo', 'id', 'name', 'place_type'];
const POLL_FIELDS = ['duration_minutes', 'end_datetime', 'id', 'options', 'voting_status'];
const TWEET_EXPANSIONS = [
  'article.cover_media',
  'article.media_entities',
  'attachments.media_keys',
  'attachments.media_source_tweet',
  'attachments.poll_ids',
  'author_id',
  'edit_history_tweet_ids',
  'entities.mentions.username',
  'geo.place_id',
  'in_reply_to_user_id',
  'entities.note.mentions.username',
  'referenced_tweets.id',
  'referenced_tweets.id.author_id',
];
const USER_EXPANSIONS = ['affiliation.user_id', 'most_recent_tweet_id', 'pinned_tweet_id'];

const LIST_PARAMS: Readonly<Record<string, readonly string[]>> = {
  'tweet.fields': TWEET_FIELDS,
  'user.fields': USER_FIELDS,
  'media.fields': MEDIA_FIELDS,
  'place.fields': PLACE_FIELDS,
  'poll.fields': POLL_FIELDS,
};

const ID_PATTERN = /^[0-9]{1,19}$/;

interface ParsedQuery {
  readonly values: Map<string, string>;
  readonly tweetFields: Set<string>;
  readonly userFields: Set<string>;
  readonly expansions: Set<string>;
}

/** Validate query parameters as the real API does: unknown names and values are 400s. */
function parseQuery(
  query: ParamList,
  allowed: readonly string[],
  expansions: readonly string[],
): ParsedQuery | ApiProblem {
  const problems: InvalidParameter[] = [];
  const values = new Map<string, string>();
  const lists = new Map<string, Set<string>>();
  for (const [name, value] of query) {
    if (!allowed.includes(name)) {
      problems.push({
        parameter: name,
        values: [value],
        message: `The query parameter [${name}] is not one of [${allowed.join(',')}]`,
      });
      continue;
    }
    values.set(name, value);
    const permitted = name === 'expansions' ? expansions : LIST_PARAMS[name];
    if (!permitted) continue;
    const items = value.split(',');
    for (const item of items) {
      if (!permitted.includes(item)) {
        problems.push({
          parameter: name,
          values: [item],
          message: `The \`${name}\` query parameter value [${item}] is not one of [${permitted.join(',')}]`,
        });
      }
    }
    lists.set(name, new Set(items));
  }
  if (problems.length) return invalidRequest(problems);
  return {
    values,
    tweetFields: lists.get('tweet.fields') ?? new Set(),
    userFields: lists.get('user.fields') ?? new Set(),
    expansions: lists.get('expansions') ?? new Set(),
  };
}

function isProblem(value: unknown): value is ApiProblem {
  return typeof value === 'object' && value !== null && 'status' in value && 'body' in value;
}

function badIdProblem(parameter: string, value: string, where = 'query parameter'): ApiProblem {
  return invalidRequest([
    {
      parameter,
      values: [value],
      message: `The \`${parameter}\` ${where} value [${value}] does not match ^[0-9]{1,19}$`,
    },
  ]);
}

export function renderTweet(tweet: Tweet, fields: Set<string>, expansions: Set<string>): Record<string, unknown> {
  const rendered: Record<string, unknown> = {
    id: tweet.id,
    text: tweet.text,
    edit_history_tweet_ids: [tweet.id],
  };
  if (fields.has('author_id') || expansions.has('author_id')) rendered.author_id = tweet.authorId;
  if (fields.has('created_at')) rendered.created_at = tweet.createdAt.toISOString();
  if (fields.has('conversation_id')) rendered.conversation_id = tweet.id;
  if (fields.has('possibly_sensitive')) rendered.possibly_sensitive = false;
  if (fields.has('reply_settings')) rendered.reply_settings = 'everyone';
  return rendered;
}

export function renderUser(user: User, fields: Set<string>): Record<string, unknown> {
  const rendered: Record<string, unknown> = { id: user.id, name: user.name, username: user.username };
  if (fields.has('created_at')) rendered.created_at = user.createdAt.toISOString();
  if (fields.has('description')) rendered.description = '';
  if (fields.has('protected')) rendered.protected = false;
  if (fields.has('verified')) rendered.verified = false;
  if (fields.has('verified_type')) rendered.verified_type = 'none';
  return rendered;
}

function includesFor(tweets: readonly Tweet[], query: ParsedQuery, store: Store): Record<string, unknown> | undefined {
  if (!query.expansions.has('author_id') || tweets.length === 0) return undefined;
  const users: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  for (const tweet of tweets) {
    if (seen.has(tweet.authorId)) continue;
    seen.add(tweet.authorId);
    const author = store.userById(tweet.authorId);
    if (author) users.push(renderUser(author, query.userFields));
  }
  return { users };
}

const CREATE_TWEET_FIELDS = [
  'text',
  'reply',
  'quote_tweet_id',
  'media',
  'poll',
  'for_super_followers_only',
  'direct_message_deep_link',
  'geo',
  'reply_settings',
  'nullcast',
  'community_id',
  'card_uri',
  'made_with_ai',
  'paid_partnership',
  'share_with_followers',
];

/** Post a tweet as `author`, applying the real API's checks (length, duplicates). Also used by the web page. */
function textRequired(): ApiResult {
  return invalidRequest([
    { parameter: 'text', values: [], message: 'Post text is required when no media, poll or quote is attached' },
  ]);
}

/** Every way of tweeting (the API and the web form) goes through here, so both refuse the same texts. */
export function postTweet(store: Store, author: User, text: string, now: number): ApiResult {
  if (text.trim() === '') return textRequired();
  if (weightedTweetLength(text) > MAX_WEIGHTED_TWEET_LENGTH) return textTooLong();
  if (store.isDuplicate(author.id, text)) return duplicateContent();
  const tweet = store.createTweet(author.id, text, now);
  return { status: 201, body: { data: { id: tweet.id, text: tweet.text, edit_history_tweet_ids: [tweet.id] } } };
}

function createTweet(request: ApiRequest, store: Store): ApiResult {
  if (request.query.length) {
    const [name, value] = request.query[0];
    return invalidRequest([
      { parameter: name, values: [value], message: `The query parameter [${name}] is not one of []` },
    ]);
  }
  if (!(request.contentType ?? '').toLowerCase().startsWith('application/json')) {
    return invalidRequest([{ parameter: 'body', values: [], message: 'Request body must be application/json' }]);
  }
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    return invalidRequest([{ parameter: 'body', values: [], message: 'Request body is not valid JSON' }]);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalidRequest([{ parameter: 'body', values: [], message: 'Request body must be a JSON object' }]);
  }
  const unknown = Object.keys(body).filter((key) => !CREATE_TWEET_FIELDS.includes(key));
  if (unknown.length) {
    return invalidRequest(
      unknown.map((key) => ({
        parameter: key,
        values: [],
        message: `$.${key}: is not defined in the schema and the schema does not allow additional properties`,
      })),
    );
  }
  const text = (body as { text?: unknown }).text;
  if (typeof text !== 'string') return textRequired();
  return postTweet(store, request.me, text, request.now);
}

function me(request: ApiRequest): ApiResult {
  const query = parseQuery(request.query, ['expansions', 'tweet.fields', 'user.fields'], USER_EXPANSIONS);
  if (isProblem(query)) return query;
  return { status: 200, body: { data: renderUser(request.me, query.userFields) } };
}

export const TIMELINE_MAX_RESULTS = { min: 5, max: 100, default: 100 } as const;

/** Pagination tokens are opaque to clients; here they carry the id below which the next page starts. */
function encodePaginationToken(untilId: string): string {
  return Buffer.from(`until:${untilId}`, 'utf8').toString('base64url');
}

function decodePaginationToken(token: string): bigint | undefined {
  const match = /^until:([0-9]{1,19})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return match ? BigInt(match[1]) : undefined;
}

function homeTimeline(request: ApiRequest, store: Store): ApiResult {
  const userId = request.route.pathParams.id;
  if (!ID_PATTERN.test(userId)) return badIdProblem('id', userId, 'path parameter');
  const query = parseQuery(
    request.query,
    [
      'end_time',
      'exclude',
      'expansions',
      'max_results',
      'media.fields',
      'pagination_token',
      'place.fields',
      'poll.fields',
      'since_id',
      'start_time',
      'tweet.fields',
      'until_id',
      'user.fields',
    ],
    TWEET_EXPANSIONS,
  );
  if (isProblem(query)) return query;
  const problems: InvalidParameter[] = [];
  let limit: number = TIMELINE_MAX_RESULTS.default;
  const maxResults = query.values.get('max_results');
  if (maxResults !== undefined) {
    limit = Number(maxResults);
    if (!/^\d+$/.test(maxResults) || limit < TIMELINE_MAX_RESULTS.min || limit > TIMELINE_MAX_RESULTS.max) {
      problems.push({
        parameter: 'max_results',
        values: [maxResults],
        message: `The \`max_results\` query parameter value [${maxResults}] is not between ${TIMELINE_MAX_RESULTS.min} and ${TIMELINE_MAX_RESULTS.max}`,
      });
    }
  }
  const ids: Record<string, bigint | undefined> = {};
  for (const name of ['since_id', 'until_id']) {
    const value = query.values.get(name);
    if (value === undefined) continue;
    if (!ID_PATTERN.test(value)) {
      problems.push({
        parameter: name,
        values: [value],
        message: `The \`${name}\` query parameter value [${value}] does not match ^[0-9]{1,19}$`,
      });
    } else {
      ids[name] = BigInt(value);
    }
  }
  let untilId = ids.until_id;
  const token = query.values.get('pagination_token');
  if (token !== undefined) {
    const tokenUntil = decodePaginationToken(token);
    if (tokenUntil === undefined) {
      problems.push({
        parameter: 'pagination_token',
        values: [token],
        message: `The \`pagination_token\` query parameter value [${token}] is not valid`,
      });
    } else if (untilId === undefined || tokenUntil < untilId) {
      untilId = tokenUntil;
    }
  }
  if (problems.length) return invalidRequest(problems);
  if (userId !== request.me.id) {
    return forbidden('You can only request the reverse chronological home timeline of the authenticating user.');
  }

  const page = store.homeTimeline(userId, { sinceId: ids.since_id, untilId, limit: limit + 1 });
  const hasMore = page.length > limit;
  const tweets = page.slice(0, limit);
  if (tweets.length === 0) return { status: 200, body: { meta: { result_count: 0 } } };
  const body: Record<string, unknown> = {
    data: tweets.map((t) => renderTweet(t, query.tweetFields, query.expansions)),
  };
  const includes = includesFor(tweets, query, store);
  if (includes) body.includes = includes;
  const meta: Record<string, unknown> = {
    result_count: tweets.length,
    newest_id: tweets[0].id,
    oldest_id: tweets[tweets.length - 1].id,
  };
  if (hasMore) meta.next_token = encodePaginationToken(tweets[tweets.length - 1].id);
  body.meta = meta;
  return { status: 200, body };
}

function tweetById(request: ApiRequest, store: Store): ApiResult {
  const id = request.route.pathParams.id;
  if (!ID_PATTERN.test(id)) return badIdProblem('id', id, 'path parameter');
  const query = parseQuery(
    request.query,
    ['expansions', 'media.fields', 'place.fields', 'poll.fields', 'tweet.fields', 'user.fields'],
    TWEET_EXPANSIONS,
  );
  if (isProblem(query)) return query;
  const tweet = store.tweetById(id);
  // Like the real API: an unknown id is a 200 with an `errors` array and no `data`.
  if (!tweet) return { status: 200, body: { errors: [tweetNotFoundPartialError(id)] } };
  const body: Record<string, unknown> = { data: renderTweet(tweet, query.tweetFields, query.expansions) };
  const includes = includesFor([tweet], query, store);
  if (includes) body.includes = includes;
  return { status: 200, body };
}

export function handleApiRequest(request: ApiRequest, store: Store): ApiResult {
  switch (request.route.endpoint) {
    case 'POST /2/tweets':
      return createTweet(request, store);
    case 'GET /2/users/me':
      return me(request);
    case 'GET /2/users/:id/timelines/reverse_chronological':
      return homeTimeline(request, store);
    case 'GET /2/tweets/:id':
      return tweetById(request, store);
    default:
      return notFoundRoute();
  }
}
