import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { usesRealXApi } from './env';

describe('usesRealXApi', () => {
  const dir = mkdtempSync(join(tmpdir(), 'launcher-env-'));
  const envFile = (contents: string) => {
    const path = join(dir, `${Math.random()}.env`);
    writeFileSync(path, contents);
    return path;
  };

  test('no .env and no variable: the emulator', () => {
    expect(usesRealXApi(join(dir, 'missing.env'), {})).toBe(false);
  });

  test('a remote base URL in .env or the environment: the real API', () => {
    expect(usesRealXApi(envFile("TWITTER_API_BASE_URL='https://api.x.com'\n"), {})).toBe(true);
    expect(usesRealXApi(join(dir, 'missing.env'), { TWITTER_API_BASE_URL: 'https://api.x.com' })).toBe(true);
  });

  test('a loopback base URL: the emulator', () => {
    expect(usesRealXApi(envFile('TWITTER_API_BASE_URL=http://127.0.0.1:8085\n'), {})).toBe(false);
  });

  test('the environment wins over .env', () => {
    const path = envFile('TWITTER_API_BASE_URL=https://api.x.com\n');
    expect(usesRealXApi(path, { TWITTER_API_BASE_URL: 'http://localhost:8085' })).toBe(false);
  });
});
