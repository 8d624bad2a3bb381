/**
 * The `dotenv` package as an oracle for the strict reader on well-formed files: wherever the two formats agree
 * (unquoted values, single quotes, double quotes with \n escapes, comments, blank lines, `export `, CRLF), both
 * read the same variables. dotenv is not used in production (README, "Dependencies"): it skips malformed lines
 * silently, where the strict reader names the file and line.
 */
import { parse as dotenvParse } from 'dotenv';
import fc from 'fast-check';

import { parseDotenv } from './dotenv';

const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/);
// dotenv ends an unquoted value at "#" and expands only \n and \r inside double quotes: those are left out.
const line = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_./:+=,@-]{0,30}$/),
  fc.stringMatching(/^[A-Za-z0-9 _./:+=,@#"-]{0,30}$/).map((value) => `'${value}'`),
  fc.stringMatching(/^[A-Za-z0-9 _./:+=,@#'-]{0,30}(\\n[A-Za-z0-9 ]{0,5})?$/).map((value) => `"${value}"`),
);
const entry = fc.record({
  name,
  value: line,
  exported: fc.boolean(),
  comment: fc.option(fc.stringMatching(/^[A-Za-z0-9 ]{0,20}$/), { nil: undefined }),
});
const file = fc.record({
  entries: fc.uniqueArray(entry, { selector: (e) => e.name, maxLength: 12 }),
  separator: fc.constantFrom('\n', '\r\n'),
  noise: fc.array(fc.constantFrom('', '# a comment', '   ', '#NAME=value'), { maxLength: 3 }),
});

test('reads every well-formed file as dotenv does', () => {
  fc.assert(
    fc.property(file, ({ entries, separator, noise }) => {
      const lines = entries.map(
        ({ name: n, value, exported, comment }) =>
          `${exported ? 'export ' : ''}${n}=${value}${comment === undefined ? '' : ` # ${comment}`}`,
      );
      const source = [...noise, ...lines, ...noise].join(separator);
      expect(Object.fromEntries(parseDotenv(source))).toEqual(dotenvParse(source));
    }),
    { numRuns: 300 },
  );
});

test('reads a typical file as dotenv does', () => {
  const source = [
    '# X API credentials',
    'TWITTER_CONSUMER_KEY=abc123',
    "export TWITTER_CONSUMER_SECRET='s3cr3t with # and \"'",
    'TWITTER_API_BASE_URL=http://127.0.0.1:8085 # the emulator',
    'GREETING="two\\nlines"',
    'EMPTY=',
    '',
  ].join('\n');
  const expected = dotenvParse(source);
  expect(expected).toMatchObject({ TWITTER_CONSUMER_KEY: 'abc123', GREETING: 'two\nlines', EMPTY: '' });
  expect(Object.fromEntries(parseDotenv(source))).toEqual(expected);
});
