/**
 * Fuzzing of the relay's command-line parser (commander with its exit override), in process and
 * without running anything: random argv raise only CommanderError (usage, or help written).
 * main() is not fuzzed: valid argv would run the relay and create the folders they name.
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see test-support/src/fuzz.ts).
 */
import { CommanderError } from 'commander';
import fc from 'fast-check';

import {
  argvArbitrary,
  expectTypedOutcome,
  FuzzCounter,
  fuzzParameters,
  FUZZ_TEST_TIMEOUT_MS,
} from '@twitter-relaynet/test-support';

import { makeCommand } from './cli';

const counter = new FuzzCounter('relay command line');
afterAll(() => counter.report());

const streamSink = { stdout: { write: () => true }, stderr: { write: () => true } };
const numbers = fc.oneof(
  fc.constantFrom('0', '1', '-5', '1.5', '08', ' 7 ', '2147483648', '99999999999999999999'),
  fc.nat().map(String),
);

test(
  'relay: the parser raises only CommanderError',
  () => {
    const flags = [
      '--cosocket',
      '--incoming',
      '--outgoing',
      '--data-root',
      '--flashdrive',
      '--wait',
      '--verbose',
      '--progress',
      '--no-progress',
      '--help',
    ];
    fc.assert(
      fc.property(
        argvArbitrary(flags, ['user-gateway', 'relayer-gateway'], fc.oneof(fc.string({ maxLength: 20 }), numbers)),
        (argv) => {
          counter.count();
          expectTypedOutcome(
            () => makeCommand(streamSink).parse(['node', 'relay', ...argv], { from: 'node' }),
            [CommanderError],
            argv,
          );
        },
      ),
      fuzzParameters('cli / relay'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);
