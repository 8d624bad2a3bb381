import { ConfigurationError } from '@twitter-relaynet/config';
import type { Command } from 'commander';

import { daemonCommand, type DaemonIo, daemonMain } from '@twitter-relaynet/daemon-kit';

import { ENV, type Env, resolveConfig, type UserGatewayFlags } from './config';
import { UserGatewayDaemon } from './daemon';

const HELP_AFTER = `
Environment variables (a flag wins over its variable):
  ${ENV.DATA_ROOT}                 --data-root (default $XDG_DATA_HOME/twitter-relaynet, else ~/.local/share/twitter-relaynet)
  ${ENV.DATA_DIR}              --data-dir (default <data root>/user-gateway)
  ${ENV.POWEBSOCKET_SOCKET}    --powebsocket-socket (default <data dir>/powebsocket.sock)
  ${ENV.COSOCKET_SOCKET}       --cosocket-socket (default <data dir>/cosocket.sock)
  ${ENV.REGISTRATION_DIR}          --registration-dir (default <data root>/registration)
  ${ENV.RELAYING_GATEWAY_CERTIFICATE}  --relaying-gateway-certificate (default <data root>/relayer-gateway/identity-certificate.pem)
  ${ENV.POLL_INTERVAL_MS}       --poll-interval (default 1000)

On first start it generates its key and writes a registration request to <registration dir>/requests/;
it completes the registration when the relaying gateway's response appears in <registration dir>/responses/.`;

export function makeCommand(io: DaemonIo): Command {
  return daemonCommand(
    'user-gateway',
    'The user gateway: serves local endpoints over PoWebSocket and the relay over CoSocket (Unix sockets in its data directory)',
    HELP_AFTER,
    io,
  )
    .option('--data-root <dir>', 'the shared data root')
    .option('--data-dir <dir>', "the user gateway's own data directory")
    .option('--powebsocket-socket <path>', 'the PoWebSocket Unix socket for local endpoints')
    .option('--cosocket-socket <path>', 'the CoSocket Unix socket for the relay')
    .option('--registration-dir <dir>', 'the registration folder shared with the relaying gateway')
    .option(
      '--relaying-gateway-certificate <path>',
      "where the relaying gateway's certificate is published (pinned on first sight)",
    )
    .option('--poll-interval <ms>', 'how often to look for the registration response');
}

/** Parse, start; resolves with the running daemon, or with an exit status (help, usage error). */
export const main = daemonMain({
  makeCommand,
  resolve: (flags: UserGatewayFlags, env: Env) => resolveConfig(flags, env),
  usageErrors: [ConfigurationError],
  create: (config, sinks) => new UserGatewayDaemon({ config, ...sinks }),
});
