import { join } from 'node:path';

import type { Command } from 'commander';

import { ConfigurationError, DAEMON_EXIT } from '@twitter-relaynet/config';
import {
  daemonCommand,
  type DaemonIo,
  daemonMain,
  describeVariables,
  parseDaemonCommandLine,
} from '@twitter-relaynet/daemon-kit';

import {
  DEFAULT_DELIVERY_LEASE_MS,
  DEFAULT_POGRPC_ADDRESS,
  ENV,
  type Env,
  resolveConfig,
  type RelayerGatewayConfig,
  type RelayerGatewayFlags,
} from './config';
import { FILES, RelayerGatewayDaemon } from './daemon';
import { checkHealth } from './health';

const VARIABLES: ReadonlyArray<readonly [string, string]> = [
  [ENV.DATA_ROOT, '--data-root (default $XDG_DATA_HOME/twitter-relaynet, else ~/.local/share/twitter-relaynet)'],
  [ENV.DATA_DIR, '--data-dir (default <data root>/relayer-gateway)'],
  [ENV.COSOCKET_SOCKET, '--cosocket-socket (default <data dir>/cosocket.sock)'],
  [ENV.POGRPC_ADDRESS, `--pogrpc-address (default ${DEFAULT_POGRPC_ADDRESS}; port 0 = any free port)`],
  [ENV.COGRPC_ADDRESS, '--cogrpc-address (no default: CogRPC for couriers is served only when given)'],
  [ENV.COGRPC_TLS_CERT, '--cogrpc-tls-cert (with --cogrpc-tls-key; default: self-signed, made at first start)'],
  [ENV.COGRPC_TLS_KEY, '--cogrpc-tls-key'],
  [ENV.REGISTRATION_DIR, '--registration-dir (default <data root>/registration)'],
  [ENV.ADDRESS_BOOK, '--address-book (default <data dir>/address-book.json)'],
  [ENV.PUBLIC_ENDPOINTS, '--public-endpoint, comma-separated: ADDRESS=HOST:PORT,...'],
  [ENV.PUBLIC_ENDPOINT_CERTIFICATES, '--public-endpoint-certificate, comma-separated: ADDRESS=FILE,...'],
  [ENV.POLL_INTERVAL_MS, '--poll-interval (default 1000)'],
  [ENV.DATABASE_URL, '--database-url (default: none, SQLite in <data dir>/gateway.sqlite)'],
  [ENV.DELIVERY_LEASE_MS, `--delivery-lease (default ${DEFAULT_DELIVERY_LEASE_MS})`],
  [ENV.HEALTH_ADDRESS, '--health-address (default: none, no HTTP endpoint)'],
];

const HELP_AFTER = `
Environment variables (a flag wins over its variable):
${describeVariables(VARIABLES)}

Publishes <data dir>/identity-certificate.pem and <data dir>/pogrpc.json ({"address", "tlsCertificatePem"});
with --cogrpc-address also <data dir>/cogrpc.json (same fields; tlsCertificatePem null with --cogrpc-plaintext).
Answers registration requests in <registration dir>/requests/ with responses in <registration dir>/responses/.
A public endpoint (such as the Twitter API adapter, twitter-api-adapter.relaynet.local) is reached at the
address given by --public-endpoint, else by the address book ({"<internet address>": {"address": "host:port",
"tlsCertificatePath": "/abs/cert.pem"}}, read at every delivery), else by DNS (host:443). Its TLS certificate
is pinned when given (--public-endpoint-certificate, tlsCertificatePath), else checked against the system CAs.
Example: --public-endpoint twitter-api-adapter.relaynet.local=192.0.2.7:21478
         --public-endpoint-certificate twitter-api-adapter.relaynet.local=adapter-pogrpc.pem
Readiness: <data dir>/health.json ({"ready", "reason", "since", "pid"}); with --health-address, GET /healthz
answers 200 (ready) or 503 (not ready, e.g. its PostgreSQL is unreachable). \`relayer-gateway health\` with the
same flags checks a running instance: exit status 0 ready, 1 not ready, and why on stdout.`;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function makeCommand(io: DaemonIo): Command {
  return daemonCommand(
    'relayer-gateway',
    'The relaying gateway: CoSocket for relays, PogRPC server and client for public endpoints, registration of user gateways',
    HELP_AFTER,
    io,
  )
    .option('--data-root <dir>', 'the shared data root')
    .option('--data-dir <dir>', "the relaying gateway's own data directory")
    .option('--cosocket-socket <path>', 'the CoSocket Unix socket for relays')
    .option('--pogrpc-address <host:port>', 'where the PogRPC server listens')
    .option('--cogrpc-address <host:port>', 'where the CogRPC server for couriers listens (RS-008)')
    .option('--cogrpc-tls-cert <path>', "the CogRPC server's TLS certificate (PEM)")
    .option('--cogrpc-tls-key <path>', "the CogRPC server's TLS private key (PEM)")
    .option(
      '--cogrpc-plaintext',
      'serve CogRPC without TLS (local couriers only, e.g. the reference initLocalhost client)',
    )
    .option('--registration-dir <dir>', 'the registration folder shared with user gateways')
    .option('--address-book <path>', 'address book: Internet address → PogRPC address and TLS certificate')
    .option('--public-endpoint <address=host:port>', 'where a public endpoint serves PogRPC (repeatable)', collect)
    .option(
      '--public-endpoint-certificate <address=file>',
      "a public endpoint's TLS certificate to pin (PEM; repeatable)",
      collect,
    )
    .option('--poll-interval <ms>', 'how often to look at the registration folder and the delivery queue')
    .option(
      '--database-url <postgres://…>',
      'keep the queues in this PostgreSQL database, shared by every instance given it (default: SQLite in the data directory)',
    )
    .option(
      '--delivery-lease <ms>',
      'how long a parcel claimed for delivery waits before it is handed out again (after a crash: before another instance delivers it)',
    )
    .option('--health-address <host:port>', 'serve GET /healthz here: 200 when ready, 503 when not');
}

const startDaemon = daemonMain({
  makeCommand,
  resolve: (flags: RelayerGatewayFlags, env: Env) => resolveConfig(flags, env),
  usageErrors: [ConfigurationError],
  create: (config, sinks) => new RelayerGatewayDaemon({ config, ...sinks }),
});

/** Parse, start; resolves with the running daemon, or with an exit status (help, usage error, health check). */
export async function main(argv: readonly string[], env: Env, io: DaemonIo): Promise<RelayerGatewayDaemon | number> {
  if (argv[2] !== 'health') return startDaemon(argv, env, io);
  // `relayer-gateway health [flags]`: the readiness of the instance those flags describe (health.ts).
  const config = parseDaemonCommandLine({
    command: makeCommand(io),
    argv: [...argv.slice(0, 2), ...argv.slice(3)],
    io,
    resolve: (flags: RelayerGatewayFlags) => resolveConfig(flags, env),
    usageErrors: [ConfigurationError],
  });
  return typeof config === 'number' ? config : reportHealth(config, io);
}

async function reportHealth(config: RelayerGatewayConfig, io: DaemonIo): Promise<number> {
  const { ready, why } = await checkHealth({ file: join(config.dataDir, FILES.health), address: config.healthAddress });
  io.stdout(`relayer-gateway ${config.dataDir}: ${why}\n`);
  return ready ? DAEMON_EXIT.OK : DAEMON_EXIT.FAILURE;
}
