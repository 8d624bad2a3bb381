/**
 * Where the user gateway keeps its state and finds its peers (docs/runtime-layout.md).
 * Precedence: flag, then environment variable, then the default.
 */
import { join, resolve } from 'node:path';

import { ConfigurationError, defaultDataRoot } from '@twitter-relaynet/config';

export const ENV = {
  DATA_ROOT: 'RELAYNET_DATA_ROOT',
  DATA_DIR: 'USER_GATEWAY_DATA_DIR',
  POWEBSOCKET_SOCKET: 'USER_GATEWAY_POWEBSOCKET_SOCKET',
  COSOCKET_SOCKET: 'USER_GATEWAY_COSOCKET_SOCKET',
  REGISTRATION_DIR: 'RELAYNET_REGISTRATION_DIR',
  RELAYING_GATEWAY_CERTIFICATE: 'USER_GATEWAY_RELAYING_GATEWAY_CERTIFICATE',
  POLL_INTERVAL_MS: 'USER_GATEWAY_POLL_INTERVAL_MS',
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

export interface UserGatewayFlags {
  readonly dataRoot?: string;
  readonly dataDir?: string;
  readonly powebsocketSocket?: string;
  readonly cosocketSocket?: string;
  readonly registrationDir?: string;
  readonly relayingGatewayCertificate?: string;
  readonly pollInterval?: string;
}

export interface UserGatewayConfig {
  readonly dataRoot: string;
  /** Our own folder: keys, certificates, gateway.sqlite, sockets. */
  readonly dataDir: string;
  readonly powebsocketSocket: string;
  readonly cosocketSocket: string;
  /** Holds `requests/` (we write ours there) and `responses/` (we read the answer there). */
  readonly registrationDir: string;
  /** Where the relaying gateway publishes its certificate (pinned on first sight). */
  readonly relayingGatewayCertificate: string;
  /** How often to look for the registration response (ms). */
  readonly pollIntervalMs: number;
}

export { defaultDataRoot };

/** Longest poll interval (one hour): beyond 2^31-1 ms Node would fire the timer at once, in a busy loop. */
export const MAX_POLL_INTERVAL_MS = 3_600_000;

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

export function parsePositiveInteger(value: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0 || Number(value) > max) {
    throw new ConfigurationError(
      `${what} must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''} (got "${value}")`,
    );
  }
  return Number(value);
}

export function resolveConfig(flags: UserGatewayFlags, env: Env): UserGatewayConfig {
  const flagRoot = nonEmpty(flags.dataRoot);
  const dataRoot = flagRoot ? resolve(flagRoot) : defaultDataRoot(env);
  const pick = (flag: string | undefined, variable: string, fallback: string): string => {
    const value = nonEmpty(flag) ?? nonEmpty(env[variable]);
    return value ? resolve(value) : fallback;
  };
  const dataDir = pick(flags.dataDir, ENV.DATA_DIR, join(dataRoot, 'user-gateway'));
  const poll = nonEmpty(flags.pollInterval) ?? nonEmpty(env[ENV.POLL_INTERVAL_MS]) ?? '1000';
  return {
    dataRoot,
    dataDir,
    powebsocketSocket: pick(flags.powebsocketSocket, ENV.POWEBSOCKET_SOCKET, join(dataDir, 'powebsocket.sock')),
    cosocketSocket: pick(flags.cosocketSocket, ENV.COSOCKET_SOCKET, join(dataDir, 'cosocket.sock')),
    registrationDir: pick(flags.registrationDir, ENV.REGISTRATION_DIR, join(dataRoot, 'registration')),
    relayingGatewayCertificate: pick(
      flags.relayingGatewayCertificate,
      ENV.RELAYING_GATEWAY_CERTIFICATE,
      join(dataRoot, 'relayer-gateway', 'identity-certificate.pem'),
    ),
    pollIntervalMs: parsePositiveInteger(poll, '--poll-interval', MAX_POLL_INTERVAL_MS),
  };
}
