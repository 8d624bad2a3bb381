/**
 * Where twitter-app keeps its state and finds its peers (docs/runtime-layout.md), and the user's X credentials.
 * Precedence: flag, then environment variable, then the default.
 */
import { join, resolve } from 'node:path';

import {
  ConfigurationError,
  DotenvError,
  readDotenv,
  resolveDataRoot,
  X_API_EMULATOR_CREDENTIALS,
} from '@twitter-relaynet/config';
import type { UserCredentials } from '@twitter-relaynet/twitter-service';

export const ENV = {
  DATA_ROOT: 'RELAYNET_DATA_ROOT',
  DATA_DIR: 'TWITTER_APP_DATA_DIR',
  GATEWAY_SOCKET: 'TWITTER_APP_GATEWAY_SOCKET',
  ADAPTER_PARAMETERS: 'TWITTER_APP_ADAPTER_PARAMETERS',
  ENV_FILE: 'TWITTER_APP_ENV_FILE',
  ACCESS_TOKEN_KEY: 'TWITTER_ACCESS_TOKEN_KEY',
  ACCESS_TOKEN_SECRET: 'TWITTER_ACCESS_TOKEN_SECRET',
} as const;

export interface PathOptions {
  readonly dataRoot?: string;
  readonly dataDir?: string;
  readonly gatewaySocket?: string;
  readonly adapterParameters?: string;
  readonly envFile?: string;
}

export interface AppPaths {
  readonly dataRoot: string;
  /** twitter-app's own folder: endpoint.sqlite (keys) and twitter-app.sqlite (the app's store). */
  readonly dataDir: string;
  /** The user gateway's PoWebSocket server. */
  readonly gatewaySocket: string;
  /** The adapter's published connection parameters. */
  readonly adapterParameters: string;
  /** The .env file with the user's X credentials (optional). */
  readonly envFile: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

/** `defaultEnvFile`: the repository's .env (the wrapper knows where the repository is). */
export function resolvePaths(options: PathOptions, env: Env, defaultEnvFile: string): AppPaths {
  const dataRoot = resolveDataRoot(options.dataRoot, env);
  const pick = (flag: string | undefined, variable: string, fallback: string): string => {
    const value = nonEmpty(flag) ?? nonEmpty(env[variable]);
    return value ? resolve(value) : fallback;
  };
  return {
    dataRoot,
    dataDir: pick(options.dataDir, ENV.DATA_DIR, join(dataRoot, 'twitter-app')),
    gatewaySocket: pick(options.gatewaySocket, ENV.GATEWAY_SOCKET, join(dataRoot, 'user-gateway', 'powebsocket.sock')),
    adapterParameters: pick(
      options.adapterParameters,
      ENV.ADAPTER_PARAMETERS,
      join(dataRoot, 'twitter-api-adapter', 'connection-parameters.json'),
    ),
    envFile: pick(options.envFile, ENV.ENV_FILE, defaultEnvFile),
  };
}

/** The user's X credentials (the service's UserCredentials: an OAuth 1.0a access token) and where they came from. */
export interface LoadedCredentials extends UserCredentials {
  /** Where they came from, for messages. */
  readonly source: 'environment' | '.env' | 'emulator';
}

/**
 * The user's X access token and secret: from the environment, else from the .env file, else the X API
 * emulator's seeded user (so everything works offline). Setting only one of the two is an error.
 */
export function loadCredentials(env: Env, envFile: string): LoadedCredentials {
  const fromEnv = { key: nonEmpty(env[ENV.ACCESS_TOKEN_KEY]), secret: nonEmpty(env[ENV.ACCESS_TOKEN_SECRET]) };
  let key = fromEnv.key;
  let secret = fromEnv.secret;
  let source: LoadedCredentials['source'] = 'environment';
  if (!key || !secret) {
    let dotenv: Map<string, string> | null;
    try {
      dotenv = readDotenv(envFile);
    } catch (error) {
      if (error instanceof DotenvError) throw new ConfigurationError(error.message, { cause: error });
      throw error;
    }
    if (dotenv) {
      const fileKey = nonEmpty(dotenv.get(ENV.ACCESS_TOKEN_KEY));
      const fileSecret = nonEmpty(dotenv.get(ENV.ACCESS_TOKEN_SECRET));
      if ((fileKey || fileSecret) && !(key || secret)) source = '.env';
      key ??= fileKey;
      secret ??= fileSecret;
    }
  }
  if (!key && !secret) {
    return {
      accessToken: X_API_EMULATOR_CREDENTIALS.accessToken,
      accessSecret: X_API_EMULATOR_CREDENTIALS.accessSecret,
      source: 'emulator',
    };
  }
  if (!key)
    throw new ConfigurationError(
      `${ENV.ACCESS_TOKEN_SECRET} is set but ${ENV.ACCESS_TOKEN_KEY} is not (environment or ${envFile})`,
    );
  if (!secret)
    throw new ConfigurationError(
      `${ENV.ACCESS_TOKEN_KEY} is set but ${ENV.ACCESS_TOKEN_SECRET} is not (environment or ${envFile})`,
    );
  return { accessToken: key, accessSecret: secret, source };
}
