/**
 * The fuzz property both gateway daemons' command lines share: the commander parser (with its exit
 * override) then the config resolution, on random argv and environments. Only usage errors or a
 * configuration are allowed; help is written, never a crash. A resolved configuration has absolute
 * paths (but for network addresses) and a positive poll interval.
 */
import { isAbsolute } from 'node:path';

import fc from 'fast-check';

import {
  argvArbitrary,
  type ErrorClass,
  expectTypedOutcome,
  FuzzCounter,
  fuzzParameters,
  FUZZ_TEST_TIMEOUT_MS,
} from './fuzz';

export interface DaemonCommandLine {
  /** The executable's name, as in `bin/<name>`. */
  readonly name: string;
  readonly flags: readonly string[];
  /** Parse `argv` (after `node <name>`) and resolve the configuration against `environment`. */
  parse(argv: readonly string[], environment: Record<string, string>): { readonly pollIntervalMs: number };
  /** The usage errors (CommanderError, the daemon's ConfigurationError). */
  readonly usageErrors: readonly ErrorClass[];
  /** Configuration keys holding addresses rather than paths. */
  readonly addressKeys?: readonly string[];
}

const environment = fc
  .dictionary(
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
  )
  .map((e) =>
    // A relative HOME yields relative data paths (reported; the shell never sets one): keep HOME absolute here.
    e.HOME !== undefined && !isAbsolute(e.HOME) ? { ...e, HOME: '/home/fuzz' } : e,
  );

const numbers = fc.oneof(
  fc.constantFrom('0', '1', '-5', '1.5', '08', ' 7 ', '2147483648', '99999999999999999999'),
  fc.nat().map(String),
);

/** Defines the jest test `<name>: usage error or a configuration`. */
export function describeDaemonCommandLineFuzz(cli: DaemonCommandLine): void {
  const counter = new FuzzCounter(`${cli.name} command line`);
  afterAll(() => counter.report());
  test(
    `${cli.name}: usage error or a configuration`,
    () => {
      fc.assert(
        fc.property(
          argvArbitrary(cli.flags, [], fc.oneof(fc.string({ maxLength: 20 }), numbers)),
          environment,
          (argv, env) => {
            counter.count();
            const config = expectTypedOutcome(() => cli.parse(argv, env), cli.usageErrors, { argv, environment: env });
            if (config) {
              for (const [key, value] of Object.entries(config)) {
                if (typeof value === 'string' && !cli.addressKeys?.includes(key) && !isAbsolute(value)) {
                  throw new Error(`${key} is not absolute: ${value}`);
                }
              }
              expect(config.pollIntervalMs).toBeGreaterThan(0);
            }
          },
        ),
        fuzzParameters(`cli / ${cli.name}`),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
}
