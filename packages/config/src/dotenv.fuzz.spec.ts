/**
 * Fuzzing of the strict `.env` reader shared by the app, the adapter and the launcher: arbitrary
 * text and mutated valid files either parse or raise DotenvError (never another error); a value
 * that fails to parse is never echoed in the message (it may be a secret); valid files round-trip.
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see test-support/src/fuzz.ts).
 */
import fc from 'fast-check';

import {
  applyMutations,
  expectTypedOutcome,
  FuzzCounter,
  fuzzParameters,
  FUZZ_TEST_TIMEOUT_MS,
  mutations,
} from '@twitter-relaynet/test-support';

import { DotenvError, parseDotenv } from './dotenv';

const counter = new FuzzCounter('.env parser');
afterAll(() => counter.report());

const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/);
/** Values that need no quoting. */
const bare = fc.stringMatching(/^[A-Za-z0-9_./:+-]{0,30}$/);

/** A valid line: its source text and the value it means. */
const validLine: fc.Arbitrary<{ name: string; source: string; value: string }> = fc.oneof(
  fc
    .tuple(name, bare, fc.boolean())
    .map(([n, v, exported]) => ({ name: n, value: v, source: `${exported ? 'export ' : ''}${n}=${v}` })),
  fc
    .tuple(
      name,
      fc.string({ maxLength: 30 }).filter((v) => !v.includes("'") && !/[\r\n]/.test(v)),
    )
    .map(([n, v]) => ({ name: n, value: v, source: `${n}='${v}'` })),
  fc
    .tuple(
      name,
      fc.string({ maxLength: 30 }).filter((v) => !/[\r\n]/.test(v)),
    )
    .map(([n, v]) => ({
      name: n,
      value: v,
      source: `${n}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}" # comment`,
    })),
);

const validFile = fc.uniqueArray(validLine, { selector: (line) => line.name, maxLength: 6 }).chain((lines) =>
  fc.array(fc.constantFrom('', '# a comment', '   ', '\uFEFF#x'), { maxLength: 3 }).map((noise) => ({
    lines,
    source: [
      ...noise.slice(0, 1).filter((n) => !n.startsWith('\uFEFF')),
      ...lines.map((l) => l.source),
      ...noise.slice(1),
    ].join('\n'),
  })),
);

test(
  'arbitrary text parses or raises DotenvError',
  () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })), (source) => {
        counter.count();
        expectTypedOutcome(() => parseDotenv(source), [DotenvError], source);
      }),
      fuzzParameters('dotenv / text'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'mutated valid files parse or raise DotenvError',
  () => {
    fc.assert(
      fc.property(validFile, mutations, ({ source }, list) => {
        counter.count();
        const mutated = applyMutations(Buffer.from(source), list).toString('utf8');
        expectTypedOutcome(() => parseDotenv(mutated), [DotenvError], mutated);
      }),
      fuzzParameters('dotenv / mutations'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'valid files give back every value',
  () => {
    fc.assert(
      fc.property(validFile, ({ lines, source }) => {
        counter.count();
        const values = parseDotenv(source);
        expect(Object.fromEntries(values)).toEqual(Object.fromEntries(lines.map((l) => [l.name, l.value])));
      }),
      fuzzParameters('dotenv / round trip'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);

test(
  'a refused value is never echoed in the error',
  () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/);
    // Ways to spoil a NAME=secret line while keeping the name: stray quotes, spaces, unterminated quotes.
    const spoil = fc.constantFrom(
      (s: string) => `"${s}`,
      (s: string) => `'${s}`,
      (s: string) => `${s} ${s}`,
      (s: string) => `${s}"`,
      (s: string) => `"${s}" trailing`,
      (s: string) => `'${s}'x`,
    );
    fc.assert(
      fc.property(name, secret, spoil, (n, s, how) => {
        counter.count();
        let message = '';
        try {
          parseDotenv(`${n}=${how(s)}`);
        } catch (error) {
          if (!(error instanceof DotenvError)) throw error;
          message = error.message;
        }
        expect(message).not.toBe('');
        expect(message).not.toContain(s);
      }),
      fuzzParameters('dotenv / secrecy'),
    );
  },
  FUZZ_TEST_TIMEOUT_MS,
);
