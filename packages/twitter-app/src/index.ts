export { main, type CliIo } from './cli';
export { TwitterApp, TWEET_TTL_SECONDS, SUBSCRIPTION_TTL_SECONDS, SUBSCRIPTION_RENEWAL_FRACTION } from './app';
export {
  AppStore,
  STORE_FILE_NAME,
  type TweetState,
  type OutgoingTweet,
  type TimelineTweet,
  type OutcomeRecord,
} from './store';
export { resolvePaths, loadCredentials, ENV, type AppPaths, type LoadedCredentials } from './config';
export { checkTweetText, assertTweetText } from './text';
export {
  ExitCode,
  AppError,
  type AppProblem,
  exitCodeOf,
  GatewayUnreachableError,
  IdentityRefusedError,
} from './errors';
