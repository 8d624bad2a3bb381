import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DotenvError, parseDotenv, readDotenv } from './dotenv';

function configError(run: () => unknown): DotenvError {
  try {
    run();
  } catch (error) {
    if (error instanceof DotenvError) return error;
    throw error;
  }
  throw new Error('expected a DotenvError');
}

describe('parseDotenv', () => {
  test('an unquoted value that is only an inline comment is empty (as dotenv reads it)', () => {
    expect(parseDotenv('A= # the comment\nB=\t#\n')).toEqual(
      new Map([
        ['A', ''],
        ['B', ''],
      ]),
    );
  });

  test('reads NAME=value lines, comments, blank lines, export, quotes, escapes and inline comments', () => {
    const values = parseDotenv(
      [
        '\uFEFF# X API settings',
        '',
        'TWITTER_CONSUMER_KEY=abc-123   # the key',
        "export TWITTER_CONSUMER_SECRET='s e#c\\n'",
        'TWITTER_ACCESS_TOKEN_KEY="a\\"b\\\\c\\n\\t" # comment',
        '  TWITTER_API_BASE_URL = https://api.x.com  ',
        'HASH=a#b',
        'EMPTY=',
        '\r',
      ].join('\r\n'),
    );
    expect(Object.fromEntries(values)).toEqual({
      TWITTER_CONSUMER_KEY: 'abc-123',
      TWITTER_CONSUMER_SECRET: 's e#c\\n',
      TWITTER_ACCESS_TOKEN_KEY: 'a"b\\c\n\t',
      TWITTER_API_BASE_URL: 'https://api.x.com',
      HASH: 'a#b',
      EMPTY: '',
    });
  });

  test.each([
    ['TWITTER_CONSUMER_KEY', 'TWITTER_CONSUMER_KEY', /line 1: expected NAME=value for TWITTER_CONSUMER_KEY/],
    [
      'OK=1\nTWITTER_CONSUMER_SECRET="open',
      'TWITTER_CONSUMER_SECRET',
      /line 2: TWITTER_CONSUMER_SECRET has an unterminated " quote/,
    ],
    [
      "TWITTER_CONSUMER_KEY='a' b",
      'TWITTER_CONSUMER_KEY',
      /line 1: TWITTER_CONSUMER_KEY has text after its closing quote/,
    ],
    ['TWITTER_CONSUMER_KEY=a b', 'TWITTER_CONSUMER_KEY', /line 1: TWITTER_CONSUMER_KEY contains spaces/],
    ['TWITTER_CONSUMER_KEY=a"b', 'TWITTER_CONSUMER_KEY', /line 1: TWITTER_CONSUMER_KEY has a stray quote/],
    [
      'TWITTER_CONSUMER_KEY=a\nTWITTER_CONSUMER_KEY=b',
      'TWITTER_CONSUMER_KEY',
      /line 2: TWITTER_CONSUMER_KEY is set twice/,
    ],
    ['1TWITTER=x', '1TWITTER', /line 1: "1TWITTER" is not a valid variable name/],
  ])('a malformed file is an error naming the file, line and variable: %j', (source, variable, message) => {
    const error = configError(() => parseDotenv(source, '/repo/.env'));
    expect(error.message).toMatch(message);
    expect(error.message).toContain('/repo/.env');
    expect(error.variable).toBe(variable);
  });
});

describe('readDotenv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'config-dotenv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('null when the file does not exist', () => {
    expect(readDotenv(join(dir, 'missing.env'))).toBeNull();
  });

  test('the variables of an existing file', () => {
    const path = join(dir, 'ok.env');
    writeFileSync(path, 'TWITTER_API_BASE_URL=http://127.0.0.1:1\n');
    expect(readDotenv(path)?.get('TWITTER_API_BASE_URL')).toBe('http://127.0.0.1:1');
  });

  test('an unreadable file is a DotenvError naming it', () => {
    // A directory cannot be read as a file (works as root too, unlike chmod 000).
    const error = configError(() => readDotenv(dir));
    expect(error.message).toContain(dir);
  });

  test('a malformed file names the file and line', () => {
    const path = join(dir, 'bad.env');
    writeFileSync(path, '# ok\nTWITTER_CONSUMER_SECRET="x\n');
    chmodSync(path, 0o600);
    const error = configError(() => readDotenv(path));
    expect(error.message).toContain(`${path} line 2`);
    expect(error.variable).toBe('TWITTER_CONSUMER_SECRET');
  });
});
