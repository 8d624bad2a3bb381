/**
 * The processes of the whole system on one machine, as `npm start` and `npm run demo` run them: the two gateways,
 * the Twitter API adapter and, unless the adapter talks to the real X API, the local X API emulator.
 */
import { join } from 'node:path';

import { LOG_FORMAT_VARIABLE } from '@twitter-relaynet/core';

import { bin, EMULATOR_BIN } from './layout';
import type { ProcessSpec } from './supervisor';

/** The emulator's port unless X_API_EMULATOR_PORT says otherwise. */
export const DEFAULT_EMULATOR_PORT = 8085;
/**
 * How often the adapter reads the home timeline when it talks to the emulator. The real API's rate limits are
 * why the adapter's own default is 90 s; the emulator has no reason to make people wait that long.
 */
export const EMULATOR_SYNC_INTERVAL_MS = 10_000;

export interface SystemOptions {
  readonly dataRoot: string;
  /** The adapter talks to the real X API (configured in .env or the environment): no emulator. */
  readonly realApi: boolean;
  /** The emulator's TCP port. */
  readonly emulatorPort?: number;
  /** The environment of every process (default: the launcher's own). */
  readonly env?: NodeJS.ProcessEnv;
}

export function emulatorBaseUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

export function systemProcesses(options: SystemOptions): ProcessSpec[] {
  // JSON logs whatever the user's RELAYNET_LOG_FORMAT says: the launcher shows them as human lines itself.
  const env: NodeJS.ProcessEnv = {
    ...(options.env ?? process.env),
    RELAYNET_DATA_ROOT: options.dataRoot,
    [LOG_FORMAT_VARIABLE]: 'json',
  };
  const specs: ProcessSpec[] = [];
  const adapterEnv: NodeJS.ProcessEnv = { ...env };
  if (!options.realApi) {
    const port = options.emulatorPort ?? DEFAULT_EMULATOR_PORT;
    specs.push({
      name: 'x-api-emulator',
      command: process.execPath,
      args: [EMULATOR_BIN, '--port', String(port), '--data-dir', join(options.dataRoot, 'x-api-emulator')],
      env,
    });
    adapterEnv.TWITTER_API_BASE_URL = emulatorBaseUrl(port);
    // Unless the user chose an interval.
    if (!adapterEnv.TWITTER_API_ADAPTER_SYNC_INTERVAL_MS?.trim()) {
      adapterEnv.TWITTER_API_ADAPTER_SYNC_INTERVAL_MS = String(EMULATOR_SYNC_INTERVAL_MS);
    }
  }
  specs.push(
    { name: 'relayer-gateway', command: bin('relayer-gateway'), args: ['--data-root', options.dataRoot], env },
    { name: 'user-gateway', command: bin('user-gateway'), args: ['--data-root', options.dataRoot], env },
    { name: 'twitter-api-adapter', command: bin('twitter-api-adapter'), args: ['--data-root', options.dataRoot], env: adapterEnv },
  );
  return specs;
}

/** X_API_EMULATOR_PORT, checked. */
export function emulatorPortFrom(env: NodeJS.ProcessEnv): number {
  const value = env.X_API_EMULATOR_PORT?.trim();
  if (!value) return DEFAULT_EMULATOR_PORT;
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new Error(`X_API_EMULATOR_PORT must be a TCP port between 1 and 65535 (got "${value}")`);
  }
  return Number(value);
}
