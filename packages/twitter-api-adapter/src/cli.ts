import type { Command } from 'commander';

import { ConfigurationError, DAEMON_EXIT } from '@twitter-relaynet/config';
import { daemonCommand, type DaemonIo, daemonMain, describeVariables } from '@twitter-relaynet/daemon-kit';

import {
  DEFAULT_API_BASE_URL,
  DEFAULT_INTERNET_ADDRESS,
  DEFAULT_POGRPC_ADDRESS,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_TIMELINE_PAGE_SIZE,
  ENV,
  type AdapterFlags,
  type Env,
  loadConfig,
} from './config';
import { TwitterApiAdapterDaemon } from './daemon';

/** Exit statuses (documented in --help): the daemons' own. */
export const EXIT = DAEMON_EXIT;

const VARIABLES: ReadonlyArray<readonly [string, string]> = [
  [ENV.DATA_ROOT, '--data-root (default $XDG_DATA_HOME/twitter-relaynet, else ~/.local/share/twitter-relaynet)'],
  [ENV.DATA_DIR, '--data-dir (default <data root>/twitter-api-adapter)'],
  [ENV.POGRPC_ADDRESS, `--pogrpc-address (default ${DEFAULT_POGRPC_ADDRESS}; port 0 = any free port)`],
  [ENV.INTERNET_ADDRESS, `--internet-address (default ${DEFAULT_INTERNET_ADDRESS})`],
  [ENV.RELAYING_GATEWAY, "--relaying-gateway (required: host:port of the relaying gateway's PogRPC server)"],
  [
    ENV.RELAYING_GATEWAY_CERTIFICATE,
    "--relaying-gateway-certificate (its TLS certificate, PEM; default: the system's CAs)",
  ],
  [ENV.SYNC_INTERVAL_MS, `--sync-interval-ms (default ${DEFAULT_SYNC_INTERVAL_MS})`],
  [ENV.TIMELINE_PAGE_SIZE, `--timeline-page-size (5-100, default ${DEFAULT_TIMELINE_PAGE_SIZE})`],
  [ENV.ENV_FILE, '--env-file (default: .env at the repository root)'],
  [ENV.API_BASE_URL, `--api-base-url (default ${DEFAULT_API_BASE_URL}, the emulator; https://api.x.com for X)`],
  [ENV.CONSUMER_KEY, "your X app's consumer key (required with the real X API; default: the emulator's)"],
  [ENV.CONSUMER_SECRET, "your X app's consumer secret (idem)"],
];

const HELP_AFTER = `
Environment variables (a flag wins over its variable, a variable over the .env file; only TWITTER_*
variables are read from .env):
${describeVariables(VARIABLES)}

Publishes <data dir>/connection-parameters.json (for the app) and <data dir>/pogrpc.json
({"internetAddress", "address", "tlsCertificatePem"}: what the relaying gateway is to be configured with).
Sends replies to the relaying gateway given by --relaying-gateway, e.g.
  --relaying-gateway 192.0.2.5:21477 --relaying-gateway-certificate relayer-gateway-pogrpc.pem
(the certificate the relaying gateway prints the fingerprint of, from its pogrpc-tls-cert.pem).`;

/** Where the adapter writes (the daemons' own). */
export type Io = DaemonIo;

export function makeCommand(io: Io): Command {
  return daemonCommand(
    'twitter-api-adapter',
    'The Twitter API adapter: a public Relaynet endpoint (PogRPC over TLS) that posts tweets and reads home timelines through the X API v2',
    HELP_AFTER,
    io,
  )
    .option('--data-root <dir>', 'the shared data root')
    .option('--data-dir <dir>', "the adapter's own data directory")
    .option('--pogrpc-address <host:port>', 'where the PogRPC server listens')
    .option('--internet-address <domain>', "the public endpoint's Internet address")
    .option('--relaying-gateway <host:port>', "the relaying gateway's PogRPC server, where replies go")
    .option('--relaying-gateway-certificate <file>', "the relaying gateway's TLS certificate to pin (PEM)")
    .option('--sync-interval-ms <ms>', 'how often each subscribed home timeline is read')
    .option('--timeline-page-size <n>', 'tweets per home timeline request (5-100)')
    .option('--env-file <path>', 'the .env file with the X API settings')
    .option('--api-base-url <url>', 'the X API: https://api.x.com, or the emulator');
}

/** Parse, start; resolves with the running daemon, or with an exit status (help, usage error). */
export const main = daemonMain({
  makeCommand,
  resolve: (flags: AdapterFlags, env: Env) => loadConfig(flags, env),
  usageErrors: [ConfigurationError],
  create: (config, sinks) => new TwitterApiAdapterDaemon({ config, ...sinks }),
});
