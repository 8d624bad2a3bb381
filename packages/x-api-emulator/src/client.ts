/** A twitter-api-v2 client for the emulator, for tests and the demo: the adapter's redirection, as the adapter uses it. */
import { TwitterApi, type TwitterApiTokens } from 'twitter-api-v2';

import { redirectHttpAgent, redirectPlugin } from '@twitter-relaynet/twitter-api-adapter';

/**
 * A `TwitterApi` client whose every request goes to `baseUrl`, e.g. `createEmulatorClient(emulator.url, creds)`.
 * `credentials` are OAuth 1.0a user tokens, or a string: an OAuth 2.0 (user-context) bearer token.
 */
export function createEmulatorClient(baseUrl: string, credentials: TwitterApiTokens | string): TwitterApi {
  const settings = { plugins: [redirectPlugin(baseUrl)], httpAgent: redirectHttpAgent(baseUrl) };
  return typeof credentials === 'string'
    ? new TwitterApi(credentials, settings)
    : new TwitterApi(credentials, settings);
}
