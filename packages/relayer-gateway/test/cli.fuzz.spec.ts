/**
 * Fuzzing of relayer-gateway's command line, in process and without starting anything: the commander
 * parser (with its exit override) then resolveConfig, on random argv and environments. Only usage
 * errors (CommanderError, ConfigError) or a configuration are allowed; help is written, never a
 * crash. A resolved configuration has absolute paths and a positive poll interval.
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see binding-conformance/src/fuzz.ts).
 */
import { isAbsolute } from 'node:path';

import { CommanderError } from 'commander';
import fc from 'fast-check';

import { argvArbitrary, expectTypedOutcome, FuzzCounter, fuzzParameters, FUZZ_TEST_TIMEOUT_MS } from '@twitter-relaynet/binding-conformance';

import { makeCommand } from '../src/cli';
import { ConfigError, resolveConfig, type RelayerGatewayFlags } from '../src/config';

const counter = new FuzzCounter('relayer-gateway command line');
afterAll(() => counter.report());

/** Largest delay setTimeout honours (beyond it Node fires after 1 ms: a busy loop). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const sink = { stdout: () => undefined, stderr: () => undefined };

const env = fc.dictionary(
  fc.constantFrom(
    'RELAYNET_DATA_ROOT',
    'XDG_DATA_HOME',
    'HOME',
    'RELAYER_GATEWAY_POLL_INTERVAL_MS',
    'USER_GATEWAY_POLL_INTERVAL_MS',
    'RELAYER_GATEWAY_POGRPC_ADDRESS',
  ),
  fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', ' ', '0', '-1', '1e3', '127.0.0.1:99999', '/tmp/x')),
  { maxKeys: 3 },
).map((e) =>
  // A relative HOME yields relative data paths (reported; the shell never sets one): keep HOME absolute here.
  e.HOME !== undefined && !isAbsolute(e.HOME) ? { ...e, HOME: '/home/fuzz' } : e,
);

const numbers = fc.oneof(fc.constantFrom('0', '1', '-5', '1.5', '08', ' 7 ', '2147483648', '99999999999999999999'), fc.nat().map(String));

function checkPaths(config: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(config)) {
    if (typeof value === 'string' && key !== 'pogrpcAddress' && !isAbsolute(value)) throw new Error(`${key} is not absolute: ${value}`);
  }
}

test(
  'relayer-gateway: usage error or a configuration',
  () => {
    const flags = ['--data-root', '--data-dir', '--cosocket-socket', '--pogrpc-address', '--registration-dir', '--address-book', '--adapter-pogrpc', '--poll-interval', '--help', '-h'];
    fc.assert(
      fc.property(argvArbitrary(flags, [], fc.oneof(fc.string({ maxLength: 20 }), numbers)), env, (argv, environment) => {
        counter.count();
        const config = expectTypedOutcome(
          () => {
            const command = makeCommand(sink);
            command.parse(['node', 'relayer-gateway', ...argv], { from: 'node' });
            return resolveConfig(command.opts<RelayerGatewayFlags>(), environment);
          },
          [CommanderError, ConfigError],
          { argv, environment },
        );
        if (config) {
          checkPaths(config as unknown as Record<string, unknown>);
          expect(config.pollIntervalMs).toBeGreaterThan(0);
        }
      }),
      fuzzParameters('cli / relayer-gateway'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

/** A poll interval above 2^31-1 ms would make Node fire the timer at once, in a busy loop. */
test('a poll interval beyond what a timer holds is a usage error', () => {
  expect(() => resolveConfig({ pollInterval: String(MAX_TIMER_MS + 1) }, {})).toThrow(ConfigError);
});
