/**
 * Fuzzing of twitter-app's command line, in process: `main(argv, io)` on random argv (its own
 * commands and options, nasty words, random strings) and random environments, in a scratch
 * directory with no user gateway and no adapter. Every run must resolve with a documented exit
 * status other than "unexpected failure" (0 help/done, 2 usage, 3 gateway unreachable, 4
 * configuration), never throw, and write no stack trace.
 *
 * FUZZ_RUNS=<n> (default 200; each run opens the app, so half of them run); FUZZ_SEED=<n>|random.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import fc from 'fast-check';

import {
  argvArbitrary,
  FuzzCounter,
  fuzzParameters,
  FUZZ_RUNS,
  FUZZ_TEST_TIMEOUT_MS,
} from '@twitter-relaynet/test-support';

import { main } from './cli';
import { ExitCode } from './errors';

const counter = new FuzzCounter('twitter-app command line');

let scratch: string;
let previousCwd: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'twitter-app-fuzz-'));
  // Relative paths in random argv land in the scratch directory, not in the repository.
  previousCwd = process.cwd();
  process.chdir(scratch);
});

afterAll(() => {
  counter.report();
  process.chdir(previousCwd);
  rmSync(scratch, { recursive: true, force: true });
});

const FLAGS = [
  '--data-root',
  '--data-dir',
  '--gateway-socket',
  '--adapter-parameters',
  '--env-file',
  '--verbose',
  '--help',
  '--limit',
  '--offline',
  '--json',
  '-h',
  '-V',
];
const WORDS = ['tweet', 'timeline', 'subscribe', 'status', 'help', 'hello', 'x'.repeat(300)];

const ALLOWED = new Set<number>([ExitCode.OK, ExitCode.USAGE, ExitCode.GATEWAY_UNREACHABLE, 4]);

test(
  'random command lines end with a documented status, never a throw',
  async () => {
    await fc.assert(
      fc.asyncProperty(
        argvArbitrary(FLAGS, WORDS),
        fc.record({
          TWITTER_ACCESS_TOKEN_KEY: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
          TWITTER_ACCESS_TOKEN_SECRET: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
        }),
        async (argv, extraEnv) => {
          counter.count();
          let output = '';
          const stream = { write: (text: string) => ((output += text), true) };
          const status = await main(['node', 'twitter-app', ...argv], {
            stdout: stream,
            stderr: stream,
            stdin: Readable.from([]),
            env: { RELAYNET_DATA_ROOT: join(scratch, 'root'), ...extraEnv },
            defaultEnvFile: join(scratch, 'no.env'),
          });
          if (!ALLOWED.has(status))
            throw new Error(`Exit status ${status} for ${JSON.stringify(argv)}:\n${output.slice(0, 2000)}`);
          expect(output).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/); // no stack trace
        },
      ),
      fuzzParameters('cli / twitter-app', Math.max(1, Math.ceil(FUZZ_RUNS / 2))),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);
