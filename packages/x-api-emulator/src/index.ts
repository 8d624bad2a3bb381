export { createEmulatorClient } from './client';
export type { EmulatorCredentials } from './auth';
export {
  DATABASE_FILE_NAME,
  DEFAULT_CREDENTIALS,
  DEFAULT_HOST,
  DEFAULT_PORT,
  EmulatorTweetError,
  type EmulatorOptions,
  type RunningEmulator,
  startEmulator,
} from './server';
export { DEFAULT_RATE_LIMITS, type EndpointName, RATE_LIMIT_WINDOW_MS } from './rateLimits';
export { DEFAULT_USER, SEED_ACCOUNTS, type SeedAccount } from './seed';
export type { Tweet, User } from './store';
export { DUPLICATE_CONTENT_DETAIL, TEXT_TOO_LONG_MESSAGE } from './problems';
