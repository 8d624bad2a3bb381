/**
 * Fuzzing of user-gateway's command line, in process and without starting anything (the property shared by
 * both gateway daemons: test-support/src/daemonCliFuzz.ts).
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see test-support/src/fuzz.ts).
 */
import { CommanderError } from 'commander';

import { ConfigurationError } from '@twitter-relaynet/config';
import { describeDaemonCommandLineFuzz } from '@twitter-relaynet/test-support';

import { makeCommand } from './cli';
import { resolveConfig, type UserGatewayFlags } from './config';

/** Largest delay setTimeout honours (beyond it Node fires after 1 ms: a busy loop). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const sink = { stdout: () => undefined, stderr: () => undefined };

describeDaemonCommandLineFuzz({
  name: 'user-gateway',
  flags: [
    '--data-root',
    '--data-dir',
    '--powebsocket-socket',
    '--cosocket-socket',
    '--registration-dir',
    '--relaying-gateway-certificate',
    '--poll-interval',
    '--help',
  ],
  parse: (argv, environment) => {
    const command = makeCommand(sink);
    command.parse(['node', 'user-gateway', ...argv], { from: 'node' });
    return resolveConfig(command.opts<UserGatewayFlags>(), environment);
  },
  usageErrors: [CommanderError, ConfigurationError],
  addressKeys: ['pogrpcAddress'],
});

/** A poll interval above 2^31-1 ms would make Node fire the timer at once, in a busy loop. */
test('a poll interval beyond what a timer holds is a usage error', () => {
  expect(() => resolveConfig({ pollInterval: String(MAX_TIMER_MS + 1) }, {})).toThrow(ConfigurationError);
});
