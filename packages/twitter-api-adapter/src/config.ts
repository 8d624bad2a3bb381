/**
 * The adapter's configuration. Precedence: command-line flag, then environment variable, then the `.env` file
 * (only TWITTER_* variables are read from it), then the default. With no configuration at all the adapter talks
 * to the local X API emulator with its seeded consumer credentials (docs/runtime-layout.md for the paths).
 */
import { join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';

import {
  defaultDataRoot,
  ConfigurationError,
  DotenvError,
  readCertificateFile,
  readDotenv,
  X_API_EMULATOR_CREDENTIALS,
  X_API_EMULATOR_HOST,
  X_API_EMULATOR_PORT,
} from '@twitter-relaynet/config';
import { isValidDomainName } from '@twitter-relaynet/core';
import type { GatewayRoute } from '@twitter-relaynet/endpoint';

export const ENV = {
  DATA_ROOT: 'RELAYNET_DATA_ROOT',
  DATA_DIR: 'TWITTER_API_ADAPTER_DATA_DIR',
  POGRPC_ADDRESS: 'TWITTER_API_ADAPTER_POGRPC_ADDRESS',
  INTERNET_ADDRESS: 'TWITTER_API_ADAPTER_INTERNET_ADDRESS',
  RELAYING_GATEWAY: 'TWITTER_API_ADAPTER_RELAYING_GATEWAY',
  RELAYING_GATEWAY_CERTIFICATE: 'TWITTER_API_ADAPTER_RELAYING_GATEWAY_CERTIFICATE',
  SYNC_INTERVAL_MS: 'TWITTER_API_ADAPTER_SYNC_INTERVAL_MS',
  TIMELINE_PAGE_SIZE: 'TWITTER_API_ADAPTER_TIMELINE_PAGE_SIZE',
  ENV_FILE: 'TWITTER_API_ADAPTER_ENV_FILE',
  API_BASE_URL: 'TWITTER_API_BASE_URL',
  CONSUMER_KEY: 'TWITTER_CONSUMER_KEY',
  CONSUMER_SECRET: 'TWITTER_CONSUMER_SECRET',
  ACCESS_TOKEN_KEY: 'TWITTER_ACCESS_TOKEN_KEY',
  ACCESS_TOKEN_SECRET: 'TWITTER_ACCESS_TOKEN_SECRET',
} as const;

export const DEFAULT_POGRPC_ADDRESS = '127.0.0.1:21478';
export const DEFAULT_INTERNET_ADDRESS = 'twitter-api-adapter.relaynet.local';
export const DEFAULT_SYNC_INTERVAL_MS = 90_000;
export const DEFAULT_TIMELINE_PAGE_SIZE = 100;
export const DEFAULT_API_BASE_URL = `http://${X_API_EMULATOR_HOST}:${X_API_EMULATOR_PORT}`;
/** Hosts of the real X API: reached directly by twitter-api-v2 (no plugin). */
export const REAL_API_HOSTS: readonly string[] = ['api.x.com', 'api.twitter.com'];

export type Env = Readonly<Record<string, string | undefined>>;

export interface AdapterFlags {
  readonly dataRoot?: string;
  readonly dataDir?: string;
  readonly pogrpcAddress?: string;
  readonly internetAddress?: string;
  readonly relayingGateway?: string;
  readonly relayingGatewayCertificate?: string;
  readonly syncIntervalMs?: string;
  readonly timelinePageSize?: string;
  readonly envFile?: string;
  readonly apiBaseUrl?: string;
}

export interface ApiConfig {
  /** No trailing slash. */
  readonly baseUrl: string;
  readonly consumerKey: string;
  readonly consumerSecret: string;
  /** True for the real X API (twitter-api-v2 unchanged); false: requests are redirected to baseUrl. */
  readonly isRealApi: boolean;
  /** Where the consumer credentials came from. */
  readonly credentialsSource: 'environment' | '.env' | 'emulator defaults';
}

export interface AdapterConfig {
  readonly dataRoot: string;
  readonly dataDir: string;
  readonly pogrpcAddress: string;
  readonly internetAddress: string;
  /** Where replies go: the relaying gateway's PogRPC server, its certificate pinned (else the system CAs). */
  readonly relayingGateway: GatewayRoute;
  /** The certificate file pinned, if any (for the banner). */
  readonly relayingGatewayCertificate: string | null;
  readonly syncIntervalMs: number;
  readonly timelinePageSize: number;
  /** The .env file consulted (it may not exist). */
  readonly envFile: string;
  readonly envFileFound: boolean;
  readonly api: ApiConfig;
  /** Published by us. */
  readonly connectionParametersPath: string;
  readonly pogrpcPublicationPath: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/** The repository's .env: this module is in packages/twitter-api-adapter/{src,dist}/. */
export function defaultEnvFile(): string {
  return resolve(__dirname, '..', '..', '..', '.env');
}

function parsePositiveInteger(value: string, variable: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0 || Number(value) > max) {
    throw new ConfigurationError(
      `${variable} (${flag}) must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` ≤ ${max}` : ''} (got "${value}")`,
      { variable },
    );
  }
  return Number(value);
}

function checkHostPort(value: string, variable: string, flag: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) {
    throw new ConfigurationError(`${variable} (${flag}) must be host:port (got "${value}")`, { variable });
  }
  return value;
}

function checkToken(value: string, variable: string, where: string): string {
  if (/^<.*>$/.test(value) || /^your[-_]/i.test(value)) {
    throw new ConfigurationError(
      `${variable} (${where}) is still a placeholder ("${value}"): put the real value or remove it`,
      { variable },
    );
  }
  if (/[\s"'\\]/.test(value) || /[^\x21-\x7e]/.test(value)) {
    throw new ConfigurationError(`${variable} (${where}) contains spaces, quotes or non-ASCII characters`, {
      variable,
    });
  }
  return value;
}

function parseBaseUrl(value: string, variable: string, where: string): { baseUrl: string; isRealApi: boolean } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(
      `${variable} (${where}) is not a URL: "${value}" (e.g. https://api.x.com or ${DEFAULT_API_BASE_URL})`,
      { variable },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigurationError(`${variable} (${where}) must be an http:// or https:// URL (got "${value}")`, {
      variable,
    });
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigurationError(`${variable} (${where}) must have no query, fragment or user info (got "${value}")`, {
      variable,
    });
  }
  const isRealApi =
    url.protocol === 'https:' && REAL_API_HOSTS.includes(url.hostname) && url.pathname.replace(/\/+$/, '') === '';
  return { baseUrl: `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`, isRealApi };
}

/**
 * Resolve the configuration; throws ConfigurationError naming the offending variable (and the .env file and line
 * for a malformed file).
 */
export function loadConfig(flags: AdapterFlags, env: Env, envFileDefault = defaultEnvFile()): AdapterConfig {
  const flagRoot = nonEmpty(flags.dataRoot);
  const dataRoot = flagRoot ? resolve(flagRoot) : defaultDataRoot(env);
  const envFile = resolve(nonEmpty(flags.envFile) ?? nonEmpty(env[ENV.ENV_FILE]) ?? envFileDefault);
  let dotenv: Map<string, string> | null;
  try {
    dotenv = readDotenv(envFile);
  } catch (error) {
    if (!(error instanceof DotenvError)) throw error;
    // An unreadable file names no variable of its own: name the one that chose it.
    if (error.variable === undefined)
      throw new ConfigurationError(`${error.message} (${ENV.ENV_FILE}, --env-file)`, { variable: ENV.ENV_FILE });
    throw new ConfigurationError(error.message, { variable: error.variable });
  }

  // TWITTER_* variables: environment first, then .env.
  const twitter = (variable: string): { value: string | undefined; where: string } => {
    const fromEnv = nonEmpty(env[variable]);
    if (fromEnv !== undefined) return { value: fromEnv, where: 'environment' };
    const fromFile = dotenv?.get(variable);
    if (fromFile !== undefined) {
      if (fromFile.trim() === '')
        throw new ConfigurationError(`${variable} is empty in ${envFile}: set it or remove the line`, { variable });
      return { value: fromFile, where: envFile };
    }
    return { value: undefined, where: 'unset' };
  };
  const pick = (flag: string | undefined, variable: string): { value: string | undefined; where: string } => {
    const fromFlag = nonEmpty(flag);
    if (fromFlag !== undefined) return { value: fromFlag, where: 'flag' };
    return twitter(variable);
  };

  const dataDirValue = pick(flags.dataDir, ENV.DATA_DIR).value;
  const dataDir = dataDirValue ? resolve(dataDirValue) : join(dataRoot, 'twitter-api-adapter');

  const pogrpc = pick(flags.pogrpcAddress, ENV.POGRPC_ADDRESS);
  const pogrpcAddress = pogrpc.value
    ? checkHostPort(pogrpc.value, ENV.POGRPC_ADDRESS, '--pogrpc-address')
    : DEFAULT_POGRPC_ADDRESS;

  const internet = pick(flags.internetAddress, ENV.INTERNET_ADDRESS);
  const internetAddress = (internet.value ?? DEFAULT_INTERNET_ADDRESS).toLowerCase();
  if (!isValidDomainName(internetAddress)) {
    throw new ConfigurationError(
      `${ENV.INTERNET_ADDRESS} (--internet-address) must be a domain name (got "${internetAddress}")`,
      { variable: ENV.INTERNET_ADDRESS },
    );
  }

  const gatewayValue = pick(flags.relayingGateway, ENV.RELAYING_GATEWAY).value;
  if (!gatewayValue) {
    throw new ConfigurationError(
      `${ENV.RELAYING_GATEWAY} (--relaying-gateway) is required: host:port of the relaying gateway's PogRPC server, where ` +
        `replies go (e.g. 127.0.0.1:21477, with ${ENV.RELAYING_GATEWAY_CERTIFICATE} for its self-signed TLS certificate)`,
      { variable: ENV.RELAYING_GATEWAY },
    );
  }
  const gatewayTarget = checkHostPort(gatewayValue, ENV.RELAYING_GATEWAY, '--relaying-gateway');
  const certificateValue = pick(flags.relayingGatewayCertificate, ENV.RELAYING_GATEWAY_CERTIFICATE).value;
  const relayingGatewayCertificate = certificateValue ? resolve(certificateValue) : null;
  let relayingGateway: GatewayRoute;
  try {
    relayingGateway = {
      target: gatewayTarget,
      tls: relayingGatewayCertificate
        ? { pinnedCertificatePem: readCertificateFile(relayingGatewayCertificate) }
        : { caPem: rootCertificates.join('\n') },
    };
  } catch (error) {
    throw new ConfigurationError(
      `${ENV.RELAYING_GATEWAY_CERTIFICATE} (--relaying-gateway-certificate): ${(error as Error).message}`,
      { variable: ENV.RELAYING_GATEWAY_CERTIFICATE },
    );
  }

  const interval = pick(flags.syncIntervalMs, ENV.SYNC_INTERVAL_MS).value;
  const syncIntervalMs = interval
    ? parsePositiveInteger(interval, ENV.SYNC_INTERVAL_MS, '--sync-interval-ms')
    : DEFAULT_SYNC_INTERVAL_MS;
  const pageSize = pick(flags.timelinePageSize, ENV.TIMELINE_PAGE_SIZE).value;
  const timelinePageSize = pageSize
    ? parsePositiveInteger(pageSize, ENV.TIMELINE_PAGE_SIZE, '--timeline-page-size', 100)
    : DEFAULT_TIMELINE_PAGE_SIZE;
  if (timelinePageSize < 5) {
    throw new ConfigurationError(
      `${ENV.TIMELINE_PAGE_SIZE} (--timeline-page-size) must be between 5 and 100 (got ${timelinePageSize})`,
      { variable: ENV.TIMELINE_PAGE_SIZE },
    );
  }

  // The X API.
  const base = pick(flags.apiBaseUrl, ENV.API_BASE_URL);
  const { baseUrl, isRealApi } = base.value
    ? parseBaseUrl(base.value, ENV.API_BASE_URL, base.where)
    : { baseUrl: DEFAULT_API_BASE_URL, isRealApi: false };
  const key = twitter(ENV.CONSUMER_KEY);
  const secret = twitter(ENV.CONSUMER_SECRET);
  if (key.value !== undefined) checkToken(key.value, ENV.CONSUMER_KEY, key.where);
  if (secret.value !== undefined) checkToken(secret.value, ENV.CONSUMER_SECRET, secret.where);
  if (key.value === undefined && secret.value !== undefined) {
    throw new ConfigurationError(`${ENV.CONSUMER_SECRET} is set (${secret.where}) but ${ENV.CONSUMER_KEY} is not`, {
      variable: ENV.CONSUMER_KEY,
    });
  }
  if (key.value !== undefined && secret.value === undefined) {
    throw new ConfigurationError(`${ENV.CONSUMER_KEY} is set (${key.where}) but ${ENV.CONSUMER_SECRET} is not`, {
      variable: ENV.CONSUMER_SECRET,
    });
  }
  if (key.value === undefined && isRealApi) {
    throw new ConfigurationError(
      `${ENV.CONSUMER_KEY} and ${ENV.CONSUMER_SECRET} are required with ${ENV.API_BASE_URL}=${baseUrl} (the real X API)`,
      { variable: ENV.CONSUMER_KEY },
    );
  }
  // The user's credentials are the app's business, but a malformed pair is reported here too.
  const accessKey = twitter(ENV.ACCESS_TOKEN_KEY);
  const accessSecret = twitter(ENV.ACCESS_TOKEN_SECRET);
  if (accessKey.value !== undefined) checkToken(accessKey.value, ENV.ACCESS_TOKEN_KEY, accessKey.where);
  if (accessSecret.value !== undefined) checkToken(accessSecret.value, ENV.ACCESS_TOKEN_SECRET, accessSecret.where);
  if ((accessKey.value === undefined) !== (accessSecret.value === undefined)) {
    const missing = accessKey.value === undefined ? ENV.ACCESS_TOKEN_KEY : ENV.ACCESS_TOKEN_SECRET;
    throw new ConfigurationError(
      `${missing} is missing: set both ${ENV.ACCESS_TOKEN_KEY} and ${ENV.ACCESS_TOKEN_SECRET}, or neither`,
      { variable: missing },
    );
  }

  const api: ApiConfig =
    key.value !== undefined
      ? {
          baseUrl,
          isRealApi,
          consumerKey: key.value,
          consumerSecret: secret.value!,
          credentialsSource: key.where === 'environment' ? 'environment' : '.env',
        }
      : {
          baseUrl,
          isRealApi,
          consumerKey: X_API_EMULATOR_CREDENTIALS.appKey,
          consumerSecret: X_API_EMULATOR_CREDENTIALS.appSecret,
          credentialsSource: 'emulator defaults',
        };

  return {
    dataRoot,
    dataDir,
    pogrpcAddress,
    internetAddress,
    relayingGateway,
    relayingGatewayCertificate,
    syncIntervalMs,
    timelinePageSize,
    envFile,
    envFileFound: dotenv !== null,
    api,
    connectionParametersPath: join(dataDir, 'connection-parameters.json'),
    pogrpcPublicationPath: join(dataDir, 'pogrpc.json'),
  };
}
