/**
 * Where the relaying gateway keeps its state and finds its peers (docs/runtime-layout.md).
 * Precedence: flag, then environment variable, then the default.
 */
import { join, resolve } from 'node:path';

import { ConfigurationError, defaultDataRoot, readCertificateFile } from '@twitter-relaynet/config';
import { isValidDomainName } from '@twitter-relaynet/core';

import { readAddressBook } from './addressBook';

export const ENV = {
  DATA_ROOT: 'RELAYNET_DATA_ROOT',
  DATA_DIR: 'RELAYER_GATEWAY_DATA_DIR',
  COSOCKET_SOCKET: 'RELAYER_GATEWAY_COSOCKET_SOCKET',
  POGRPC_ADDRESS: 'RELAYER_GATEWAY_POGRPC_ADDRESS',
  COGRPC_ADDRESS: 'RELAYER_GATEWAY_COGRPC_ADDRESS',
  COGRPC_TLS_CERT: 'RELAYER_GATEWAY_COGRPC_TLS_CERT',
  COGRPC_TLS_KEY: 'RELAYER_GATEWAY_COGRPC_TLS_KEY',
  REGISTRATION_DIR: 'RELAYNET_REGISTRATION_DIR',
  ADDRESS_BOOK: 'RELAYER_GATEWAY_ADDRESS_BOOK',
  PUBLIC_ENDPOINTS: 'RELAYER_GATEWAY_PUBLIC_ENDPOINTS',
  PUBLIC_ENDPOINT_CERTIFICATES: 'RELAYER_GATEWAY_PUBLIC_ENDPOINT_CERTIFICATES',
  POLL_INTERVAL_MS: 'RELAYER_GATEWAY_POLL_INTERVAL_MS',
  DATABASE_URL: 'DATABASE_URL',
  DELIVERY_LEASE_MS: 'RELAYER_GATEWAY_DELIVERY_LEASE_MS',
  HEALTH_ADDRESS: 'RELAYER_GATEWAY_HEALTH_ADDRESS',
} as const;

export const DEFAULT_POGRPC_ADDRESS = '127.0.0.1:21477';
export const DEFAULT_DELIVERY_LEASE_MS = 2 * 60 * 1000;

export type Env = Readonly<Record<string, string | undefined>>;

export interface RelayerGatewayFlags {
  readonly dataRoot?: string;
  readonly dataDir?: string;
  readonly cosocketSocket?: string;
  readonly pogrpcAddress?: string;
  readonly cogrpcAddress?: string;
  readonly cogrpcTlsCert?: string;
  readonly cogrpcTlsKey?: string;
  readonly cogrpcPlaintext?: boolean;
  readonly registrationDir?: string;
  readonly addressBook?: string;
  /** `ADDRESS=HOST:PORT`, repeatable. */
  readonly publicEndpoint?: readonly string[];
  /** `ADDRESS=FILE` (PEM), repeatable. */
  readonly publicEndpointCertificate?: readonly string[];
  readonly pollInterval?: string;
  readonly databaseUrl?: string;
  readonly deliveryLease?: string;
  readonly healthAddress?: string;
}

export interface RelayerGatewayConfig {
  readonly dataRoot: string;
  readonly dataDir: string;
  readonly cosocketSocket: string;
  /** host:port of the PogRPC server (port 0: any free port; the real one is published in pogrpc.json). */
  readonly pogrpcAddress: string;
  /** CogRPC for couriers (RS-008), served only when an address is given. */
  readonly cogrpc: CogRPCConfig | null;
  readonly registrationDir: string;
  readonly addressBook: string;
  /** Public endpoints given by flag or variable, by Internet address: they win over the address book. */
  readonly publicEndpoints: ReadonlyMap<string, PublicEndpointRoute>;
  /** Published by us: where public endpoints reach our PogRPC server. */
  readonly pogrpcPublication: string;
  /** Published by us: our self-issued certificate. */
  readonly certificatePublication: string;
  /** Registration folder and delivery queue polling (ms). */
  readonly pollIntervalMs: number;
  /**
   * postgres://… : the stores are in this PostgreSQL database, shared with any other instance given it;
   * null: SQLite in the data directory (one instance).
   */
  readonly databaseUrl: string | null;
  /**
   * How long a parcel claimed for delivery is not handed out again (ms): after a crash, the time until another
   * instance (or this one, restarted on PostgreSQL) delivers it.
   */
  readonly deliveryLeaseMs: number;
  /** host:port answering `GET /healthz` (200 ready, 503 not), or null: health.json and `relayer-gateway health` only. */
  readonly healthAddress: string | null;
}

export interface PublicEndpointRoute {
  /** host:port of its PogRPC server. */
  readonly address: string;
  /** The TLS certificate to pin (PEM), or null: the system's CAs. */
  readonly tlsCertificatePem: string | null;
}

export interface CogRPCConfig {
  /** host:port (port 0: any free port; the real one is published in cogrpc.json). */
  readonly address: string;
  /** Self-signed (made at first start, kept in <data dir>/cogrpc-tls/), given files, or none. */
  readonly tls:
    | { readonly kind: 'self-signed' }
    | { readonly kind: 'files'; readonly certPath: string; readonly keyPath: string }
    | { readonly kind: 'plaintext' };
  /** Published by us: {"address", "tlsCertificatePem"}. */
  readonly publication: string;
}

export { defaultDataRoot };

/** Longest poll interval (one hour): beyond 2^31-1 ms Node would fire the timer at once, in a busy loop. */
export const MAX_POLL_INTERVAL_MS = 3_600_000;

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

function parsePositiveInteger(value: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0 || Number(value) > max) {
    throw new ConfigurationError(
      `${what} must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''} (got "${value}")`,
    );
  }
  return Number(value);
}

function checkHostPort(value: string, flag = '--pogrpc-address'): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value.trim());
  if (!match || Number(match[2]) > 65535) {
    throw new ConfigurationError(`${flag} must be host:port (got "${value}")`);
  }
  return value.trim();
}

export function resolveConfig(flags: RelayerGatewayFlags, env: Env): RelayerGatewayConfig {
  const flagRoot = nonEmpty(flags.dataRoot);
  const dataRoot = flagRoot ? resolve(flagRoot) : defaultDataRoot(env);
  const pick = (flag: string | undefined, variable: string, fallback: string): string => {
    const value = nonEmpty(flag) ?? nonEmpty(env[variable]);
    return value ? resolve(value) : fallback;
  };
  const dataDir = pick(flags.dataDir, ENV.DATA_DIR, join(dataRoot, 'relayer-gateway'));
  const poll = nonEmpty(flags.pollInterval) ?? nonEmpty(env[ENV.POLL_INTERVAL_MS]) ?? '1000';
  const addressBook = pick(flags.addressBook, ENV.ADDRESS_BOOK, join(dataDir, 'address-book.json'));
  try {
    // Read again at every delivery; a book that is wrong at start is a usage error rather than failed deliveries.
    readAddressBook(addressBook);
  } catch (error) {
    throw new ConfigurationError(`--address-book: ${(error as Error).message}`);
  }
  return {
    dataRoot,
    dataDir,
    cosocketSocket: pick(flags.cosocketSocket, ENV.COSOCKET_SOCKET, join(dataDir, 'cosocket.sock')),
    pogrpcAddress: checkHostPort(
      nonEmpty(flags.pogrpcAddress) ?? nonEmpty(env[ENV.POGRPC_ADDRESS]) ?? DEFAULT_POGRPC_ADDRESS,
    ),
    cogrpc: resolveCogRPC(flags, env, dataDir, pick),
    registrationDir: pick(flags.registrationDir, ENV.REGISTRATION_DIR, join(dataRoot, 'registration')),
    addressBook,
    publicEndpoints: resolvePublicEndpoints(flags, env),
    pogrpcPublication: join(dataDir, 'pogrpc.json'),
    certificatePublication: join(dataDir, 'identity-certificate.pem'),
    pollIntervalMs: parsePositiveInteger(poll, '--poll-interval', MAX_POLL_INTERVAL_MS),
    databaseUrl: checkDatabaseUrl(nonEmpty(flags.databaseUrl) ?? nonEmpty(env[ENV.DATABASE_URL])),
    deliveryLeaseMs: parsePositiveInteger(
      nonEmpty(flags.deliveryLease) ?? nonEmpty(env[ENV.DELIVERY_LEASE_MS]) ?? String(DEFAULT_DELIVERY_LEASE_MS),
      '--delivery-lease',
      MAX_POLL_INTERVAL_MS,
    ),
    healthAddress: resolveHealthAddress(flags, env),
  };
}

function resolveHealthAddress(flags: RelayerGatewayFlags, env: Env): string | null {
  const address = nonEmpty(flags.healthAddress) ?? nonEmpty(env[ENV.HEALTH_ADDRESS]);
  return address ? checkHostPort(address, '--health-address') : null;
}

function checkDatabaseUrl(value: string | undefined): string | null {
  if (value === undefined) return null;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigurationError(
      '--database-url must be a postgres://user@host:port/database URL (got an unparsable value)',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigurationError(`--database-url must be a postgres:// or postgresql:// URL (got ${url.protocol}//…)`);
  }
  return value.trim();
}

/** A database URL fit for logs: no password. */
export function describeDatabaseUrl(value: string): string {
  const url = new URL(value);
  return `${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
}

function resolveCogRPC(
  flags: RelayerGatewayFlags,
  env: Env,
  dataDir: string,
  pick: (flag: string | undefined, variable: string, fallback: string) => string,
): CogRPCConfig | null {
  const address = nonEmpty(flags.cogrpcAddress) ?? nonEmpty(env[ENV.COGRPC_ADDRESS]);
  const certPath = pick(flags.cogrpcTlsCert, ENV.COGRPC_TLS_CERT, '');
  const keyPath = pick(flags.cogrpcTlsKey, ENV.COGRPC_TLS_KEY, '');
  if (!address) {
    if (certPath || keyPath || flags.cogrpcPlaintext)
      throw new ConfigurationError('--cogrpc-tls-cert, --cogrpc-tls-key and --cogrpc-plaintext need --cogrpc-address');
    return null;
  }
  if (Boolean(certPath) !== Boolean(keyPath))
    throw new ConfigurationError('--cogrpc-tls-cert and --cogrpc-tls-key go together');
  if (certPath && flags.cogrpcPlaintext)
    throw new ConfigurationError('--cogrpc-plaintext excludes --cogrpc-tls-cert/--cogrpc-tls-key');
  return {
    address: checkHostPort(address, '--cogrpc-address'),
    tls: flags.cogrpcPlaintext
      ? { kind: 'plaintext' }
      : certPath
        ? { kind: 'files', certPath, keyPath }
        : { kind: 'self-signed' },
    publication: join(dataDir, 'cogrpc.json'),
  };
}

/** Flag values if any were given, else the variable's comma-separated list. */
function listOf(values: readonly string[] | undefined, variable: string, env: Env): string[] {
  if (values && values.length > 0) return [...values];
  return (env[variable] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function splitPair(value: string, flag: string, right: string): [string, string] {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1)
    throw new ConfigurationError(`${flag} must be INTERNET-ADDRESS=${right} (got "${value}")`);
  const address = value.slice(0, at).trim().toLowerCase();
  if (!isValidDomainName(address))
    throw new ConfigurationError(`${flag}: "${value.slice(0, at)}" is not an Internet address (a domain name)`);
  return [address, value.slice(at + 1).trim()];
}

function resolvePublicEndpoints(flags: RelayerGatewayFlags, env: Env): ReadonlyMap<string, PublicEndpointRoute> {
  const addresses = new Map<string, string>();
  for (const item of listOf(flags.publicEndpoint, ENV.PUBLIC_ENDPOINTS, env)) {
    const [address, target] = splitPair(item, '--public-endpoint', 'HOST:PORT');
    if (addresses.has(address)) throw new ConfigurationError(`--public-endpoint: ${address} is given twice`);
    addresses.set(address, checkHostPort(target, '--public-endpoint'));
  }
  const certificates = new Map<string, string>();
  for (const item of listOf(flags.publicEndpointCertificate, ENV.PUBLIC_ENDPOINT_CERTIFICATES, env)) {
    const [address, path] = splitPair(item, '--public-endpoint-certificate', 'FILE');
    if (!addresses.has(address)) {
      throw new ConfigurationError(
        `--public-endpoint-certificate: ${address} has no --public-endpoint ${address}=HOST:PORT`,
      );
    }
    if (certificates.has(address))
      throw new ConfigurationError(`--public-endpoint-certificate: ${address} is given twice`);
    try {
      certificates.set(address, readCertificateFile(resolve(path)));
    } catch (error) {
      throw new ConfigurationError(`--public-endpoint-certificate ${address}: ${(error as Error).message}`);
    }
  }
  return new Map(
    [...addresses].map(([address, target]) => [
      address,
      { address: target, tlsCertificatePem: certificates.get(address) ?? null },
    ]),
  );
}
