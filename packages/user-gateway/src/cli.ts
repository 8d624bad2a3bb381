import { Command, CommanderError } from 'commander';

import { ConfigurationError, DAEMON_EXIT, DAEMON_HELP_FOOTER } from '@twitter-relaynet/config';
import { lineLogger } from '@twitter-relaynet/core';

import { ENV, type Env, resolveConfig, type UserGatewayFlags } from './config';
import { UserGatewayDaemon } from './daemon';

export const USAGE_EXIT_CODE = DAEMON_EXIT.USAGE;

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
it completes the registration when the relaying gateway's response appears in <registration dir>/responses/.
${DAEMON_HELP_FOOTER}`;

export function makeCommand(io: { stdout: (s: string) => void; stderr: (s: string) => void }): Command {
  return new Command('user-gateway')
    .description(
      'The user gateway: serves local endpoints over PoWebSocket and the relay over CoSocket (Unix sockets in its data directory)',
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
    .option('--poll-interval <ms>', 'how often to look for the registration response')
    .addHelpText('after', HELP_AFTER)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });
}

/** Parse, start; resolves with the running daemon, or with an exit status (help, usage error). */
export async function main(
  argv: readonly string[],
  env: Env,
  io: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<UserGatewayDaemon | number> {
  const command = makeCommand(io);
  let config;
  try {
    command.parse([...argv], { from: 'node' });
    config = resolveConfig(command.opts<UserGatewayFlags>(), env);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      io.stderr(`user-gateway: ${error.message.replace(/^error: /, '')} (see user-gateway --help)\n`);
      return USAGE_EXIT_CODE;
    }
    if (error instanceof ConfigurationError) {
      io.stderr(`user-gateway: ${error.message} (see user-gateway --help)\n`);
      return USAGE_EXIT_CODE;
    }
    throw error;
  }
  const daemon = new UserGatewayDaemon({
    config,
    logger: lineLogger('user-gateway'),
    print: (line) => io.stdout(line + '\n'),
  });
  await daemon.start();
  return daemon;
}
