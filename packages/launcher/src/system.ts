/**
 * The processes of the whole system on one machine, as `npm start` and `npm run demo` run them: the two gateways,
 * the Twitter API adapter and, unless the adapter talks to the real X API, the local X API emulator.
 *
 * The daemons learn where their peers are from configuration only, never from each other's folders. On one
 * machine the launcher is the one who knows: it starts the relaying gateway, reads what it published (its PogRPC
 * address and certificate) and starts the adapter with them as flags; then reads what the adapter published and
 * writes it into the address book it gave the relaying gateway; only then does it start the user gateway, so
 * that no parcel reaches the relaying gateway before it knows the adapter's address.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { LOG_FORMAT_VARIABLE, writeFileAtomically } from '@twitter-relaynet/core';

import { bin, EMULATOR_BIN } from './layout';
import type { ProcessSpec } from './supervisor';

/** npm start serves CogRPC for couriers here (RS-008's port) unless RELAYER_GATEWAY_COGRPC_ADDRESS says otherwise. */
export const DEFAULT_COGRPC_ADDRESS = '127.0.0.1:21473';
export const COGRPC_ADDRESS_VARIABLE = 'RELAYER_GATEWAY_COGRPC_ADDRESS';
/** The launcher's own folder under the data root: the peers' certificates and the relaying gateway's address book. */
export const LAUNCHER_FOLDER = 'launcher';
/** How long a daemon may take to publish its addresses before the launcher gives up (a safety net). */
const PUBLICATION_TIMEOUT_MS = 120_000;

/** The emulator's port unless X_API_EMULATOR_PORT says otherwise. */
export const DEFAULT_EMULATOR_PORT = 8085;
/**
 * How often the adapter reads the home timeline when it talks to the emulator. The real API's rate limits are
 * why the adapter's own default is 90 s; the emulator has no reason to make people wait that long.
 */
export const EMULATOR_SYNC_INTERVAL_MS = 10_000;

/**
 * Which computer this is: `all` of them in one (the default), the user's (the user gateway alone) or the Internet
 * server (the relaying gateway, the adapter and the emulator). The two sides share only the courier's flashdrive
 * and the network, so a side's processes are wired to nothing of the other's.
 */
export type Side = 'all' | 'user' | 'internet';
export const SIDES: readonly Side[] = ['all', 'user', 'internet'];

export interface SystemOptions {
  readonly dataRoot: string;
  /** Default `all`. */
  readonly side?: Side;
  /** The adapter talks to the real X API (configured in .env or the environment): no emulator. */
  readonly realApi: boolean;
  /** The emulator's TCP port. */
  readonly emulatorPort?: number;
  /** The environment of every process (default: the launcher's own). */
  readonly env?: NodeJS.ProcessEnv;
  /** Called once the relaying gateway published its servers (npm start prints them). */
  readonly onRelayerGateway?: (servers: RelayerGatewayServers) => void;
}

/** What a daemon publishes of one of its servers (`pogrpc.json`, `cogrpc.json`). */
export interface Published {
  readonly address: string;
  /** PEM; null for a plaintext server. */
  readonly tlsCertificatePem: string | null;
  readonly internetAddress?: string;
}

export interface RelayerGatewayServers {
  readonly pogrpc: Published;
  /** Null when CogRPC is off (RELAYER_GATEWAY_COGRPC_ADDRESS set empty). */
  readonly cogrpc: Published | null;
}

/** SHA-256 of a certificate's DER, lowercase hex, as the daemons print it. */
export function certificateSha256(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** Where npm start serves CogRPC: the variable if set (set empty: nowhere), else the default. */
export function cogrpcAddressFrom(env: NodeJS.ProcessEnv): string | null {
  const value = env[COGRPC_ADDRESS_VARIABLE];
  if (value === undefined) return DEFAULT_COGRPC_ADDRESS;
  return value.trim() === '' ? null : value.trim();
}

/** Which version of a file is there (null: none), to tell a publication of this run from a previous run's. */
function fileVersion(path: string): string | null {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
  } catch {
    return null;
  }
}

function readPublication(path: string): Published {
  const document = JSON.parse(readFileSync(path, 'utf8')) as Partial<Record<keyof Published, unknown>>;
  const { address, tlsCertificatePem, internetAddress } = document ?? {};
  if (typeof address !== 'string' || (tlsCertificatePem !== null && typeof tlsCertificatePem !== 'string')) {
    throw new Error(`${path} lacks "address" or "tlsCertificatePem"`);
  }
  return { address, tlsCertificatePem, ...(typeof internetAddress === 'string' ? { internetAddress } : {}) };
}

/** Wait until `path` is published anew (atomically: a new file replaces the old one). */
async function published(path: string, before: string | null, signal: AbortSignal): Promise<Published> {
  const deadline = Date.now() + PUBLICATION_TIMEOUT_MS;
  for (;;) {
    const version = fileVersion(path);
    if (version !== null && version !== before) return readPublication(path);
    if (Date.now() > deadline)
      throw new Error(`nothing was published in ${path} within ${PUBLICATION_TIMEOUT_MS / 1000} s`);
    await sleep(50, undefined, { signal });
  }
}

/** The address book npm start gives the relaying gateway: the user's own (RELAYER_GATEWAY_ADDRESS_BOOK) if any. */
function userAddressBook(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const path = env.RELAYER_GATEWAY_ADDRESS_BOOK?.trim();
  if (!path) return {};
  const book = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!book || typeof book !== 'object' || Array.isArray(book))
    throw new Error(`${path} (RELAYER_GATEWAY_ADDRESS_BOOK) is not an address book`);
  return book as Record<string, unknown>;
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
  const launcherDir = join(options.dataRoot, LAUNCHER_FOLDER);
  const relayerDir = resolve(env.RELAYER_GATEWAY_DATA_DIR?.trim() || join(options.dataRoot, 'relayer-gateway'));
  const adapterDir = resolve(env.TWITTER_API_ADAPTER_DATA_DIR?.trim() || join(options.dataRoot, 'twitter-api-adapter'));
  const cogrpcAddress = cogrpcAddressFrom(env);
  const relayerEnv: NodeJS.ProcessEnv = { ...env, [COGRPC_ADDRESS_VARIABLE]: cogrpcAddress ?? '' };
  const addressBook = join(launcherDir, 'address-book.json');
  const relayerCertificate = join(launcherDir, 'relayer-gateway-pogrpc.pem');
  const adapterCertificate = join(launcherDir, 'twitter-api-adapter-pogrpc.pem');
  const relayerFiles = { pogrpc: join(relayerDir, 'pogrpc.json'), cogrpc: join(relayerDir, 'cogrpc.json') };
  const adapterFile = join(adapterDir, 'pogrpc.json');
  let before: Record<'pogrpc' | 'cogrpc' | 'adapter', string | null> = { pogrpc: null, cogrpc: null, adapter: null };
  let relayer: RelayerGatewayServers | null = null;

  specs.push(
    {
      name: 'relayer-gateway',
      command: bin('relayer-gateway'),
      args: ['--data-root', options.dataRoot, '--address-book', addressBook],
      env: relayerEnv,
      prepare: async () => {
        mkdirSync(launcherDir, { recursive: true, mode: 0o700 });
        // Its address book exists from the start (empty but for the user's entries): the adapter is added later.
        await writeFileAtomically(addressBook, JSON.stringify(userAddressBook(env), null, 2) + '\n', 0o644);
        before = { pogrpc: fileVersion(relayerFiles.pogrpc), cogrpc: fileVersion(relayerFiles.cogrpc), adapter: null };
        return [];
      },
      ready: async (signal) => {
        const pogrpc = await published(relayerFiles.pogrpc, before.pogrpc, signal);
        const cogrpc = cogrpcAddress === null ? null : await published(relayerFiles.cogrpc, before.cogrpc, signal);
        relayer = { pogrpc, cogrpc };
        options.onRelayerGateway?.(relayer);
      },
    },
    {
      name: 'twitter-api-adapter',
      command: bin('twitter-api-adapter'),
      args: ['--data-root', options.dataRoot],
      env: adapterEnv,
      prepare: async () => {
        const { pogrpc } = relayer!;
        if (!pogrpc.tlsCertificatePem) throw new Error(`${relayerFiles.pogrpc} has no TLS certificate`);
        await writeFileAtomically(relayerCertificate, pogrpc.tlsCertificatePem, 0o644);
        before.adapter = fileVersion(adapterFile);
        return ['--relaying-gateway', pogrpc.address, '--relaying-gateway-certificate', relayerCertificate];
      },
      ready: async (signal) => {
        const adapter = await published(adapterFile, before.adapter, signal);
        if (!adapter.internetAddress || !adapter.tlsCertificatePem)
          throw new Error(`${adapterFile} lacks "internetAddress" or "tlsCertificatePem"`);
        await writeFileAtomically(adapterCertificate, adapter.tlsCertificatePem, 0o644);
        const book = {
          ...userAddressBook(env),
          [adapter.internetAddress]: { address: adapter.address, tlsCertificatePath: adapterCertificate },
        };
        await writeFileAtomically(addressBook, JSON.stringify(book, null, 2) + '\n', 0o644);
      },
    },
    { name: 'user-gateway', command: bin('user-gateway'), args: ['--data-root', options.dataRoot], env },
  );
  const side = options.side ?? 'all';
  if (side === 'all') return specs;
  return specs.filter((spec) => (spec.name === 'user-gateway') === (side === 'user'));
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
