export {
  TwitterApiAdapter,
  type TwitterApiAdapterOptions,
  type RetryOptions,
  comparableText,
  deterministicParcelId,
  tweetUrlFor,
} from './adapter';
export { TwitterApiAdapterDaemon, type AdapterDaemonOptions } from './daemon';
export {
  loadConfig,
  defaultEnvFile,
  ENV,
  DEFAULT_POGRPC_ADDRESS,
  DEFAULT_INTERNET_ADDRESS,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_TIMELINE_PAGE_SIZE,
  DEFAULT_API_BASE_URL,
  REAL_API_HOSTS,
  type AdapterConfig,
  type AdapterFlags,
  type ApiConfig,
  type Env,
} from './config';
export {
  AdapterStore,
  ADAPTER_DATABASE_FILE,
  type TweetRecord,
  type TweetState,
  type SubscriptionRecord,
  type SubscriptionState,
} from './store';
export {
  TwitterApiV2Client,
  classifyApiError,
  DEFAULT_RATE_LIMIT_WAIT_MS,
  MIN_RATE_LIMIT_WAIT_MS,
  REQUEST_TIMEOUT_MS,
  type XApi,
  type XEndpoint,
  type XUser,
  type PostedTweet,
  type TimelinePage,
  type TimelineQuery,
  type ApiFailure,
} from './xApi';
export { redirectHttpAgent, redirectPlugin } from './redirect';
export { main, makeCommand, EXIT } from './cli';
