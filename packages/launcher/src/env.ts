import { readDotenv } from '@twitter-relaynet/config';

/**
 * Whether the adapter will talk to a remote X API rather than the bundled emulator, so that `npm start` need not
 * start the emulator: decided by TWITTER_API_BASE_URL, from the environment or the repository's .env.
 */
export function usesRealXApi(envFilePath: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const baseUrl = env.TWITTER_API_BASE_URL?.trim() || readVariable(envFilePath, 'TWITTER_API_BASE_URL');
  if (!baseUrl) return false;
  try {
    const { hostname } = new URL(baseUrl);
    return !['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname);
  } catch {
    return false; // the adapter reports a malformed URL with the variable's name
  }
}

function readVariable(path: string, name: string): string | undefined {
  try {
    return readDotenv(path)?.get(name);
  } catch {
    return undefined; // a malformed .env: the adapter stops with an error naming the line and the variable
  }
}
