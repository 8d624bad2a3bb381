import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigurationError, X_API_EMULATOR_CREDENTIALS } from '@twitter-relaynet/config';

import { loadCredentials, resolvePaths } from './config';
import { ExitCode, exitCodeOf } from './errors';

describe('credentials and paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twitter-app-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const envFile = join(dir, '.env');

  test('default to the X API emulator seeded user when nothing is configured', () => {
    expect(loadCredentials({}, join(dir, 'missing.env'))).toEqual({
      accessToken: X_API_EMULATOR_CREDENTIALS.accessToken,
      accessSecret: X_API_EMULATOR_CREDENTIALS.accessSecret,
      source: 'emulator',
    });
  });

  test('come from .env, and the environment wins over it', () => {
    writeFileSync(envFile, 'TWITTER_ACCESS_TOKEN_KEY=file-key\nTWITTER_ACCESS_TOKEN_SECRET=file-secret\n');
    expect(loadCredentials({}, envFile)).toEqual({
      accessToken: 'file-key',
      accessSecret: 'file-secret',
      source: '.env',
    });
    expect(
      loadCredentials({ TWITTER_ACCESS_TOKEN_KEY: 'env-key', TWITTER_ACCESS_TOKEN_SECRET: 'env-secret' }, envFile),
    ).toEqual({ accessToken: 'env-key', accessSecret: 'env-secret', source: 'environment' });
  });

  test.each([
    [
      'OK=1\nTWITTER_ACCESS_TOKEN_SECRET="unterminated',
      /\.env line 2: TWITTER_ACCESS_TOKEN_SECRET has an unterminated " quote/,
    ],
    [
      'TWITTER_ACCESS_TOKEN_KEY=value with spaces',
      /\.env line 1: TWITTER_ACCESS_TOKEN_KEY contains spaces \(quote the whole value\)/,
    ],
    ['TWITTER_ACCESS_TOKEN_KEY', /\.env line 1: expected NAME=value for TWITTER_ACCESS_TOKEN_KEY/],
  ])('a malformed .env is a configuration error (exit 4) naming the line and variable: %j', (source, message) => {
    writeFileSync(envFile, source);
    let error: unknown;
    try {
      loadCredentials({}, envFile);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(exitCodeOf(error as ConfigurationError)).toBe(ExitCode.CONFIGURATION);
    expect((error as Error).message).toMatch(message);
  });

  test('only one of key and secret is an error naming the missing one', () => {
    writeFileSync(envFile, 'TWITTER_ACCESS_TOKEN_KEY=file-key\n');
    expect(() => loadCredentials({}, envFile)).toThrow(
      /TWITTER_ACCESS_TOKEN_KEY is set but TWITTER_ACCESS_TOKEN_SECRET is not/,
    );
  });

  test('paths follow docs/runtime-layout.md: flag, then environment, then the data root', () => {
    expect(resolvePaths({}, { HOME: '/home/u' }, '/repo/.env')).toEqual({
      dataRoot: '/home/u/.local/share/twitter-relaynet',
      dataDir: '/home/u/.local/share/twitter-relaynet/twitter-app',
      gatewaySocket: '/home/u/.local/share/twitter-relaynet/user-gateway/powebsocket.sock',
      adapterParameters: '/home/u/.local/share/twitter-relaynet/twitter-api-adapter/connection-parameters.json',
      envFile: '/repo/.env',
    });
    expect(resolvePaths({}, { HOME: '/home/u', XDG_DATA_HOME: '/xdg' }, '/repo/.env').dataRoot).toBe(
      '/xdg/twitter-relaynet',
    );
    const env = { RELAYNET_DATA_ROOT: '/root-env', TWITTER_APP_DATA_DIR: '/app-env', XDG_DATA_HOME: '/xdg' };
    expect(resolvePaths({}, env, '/repo/.env')).toMatchObject({
      dataRoot: '/root-env',
      dataDir: '/app-env',
      gatewaySocket: '/root-env/user-gateway/powebsocket.sock',
    });
    expect(
      resolvePaths({ dataRoot: '/flag', dataDir: '/flag-app', gatewaySocket: '/s.sock' }, env, '/repo/.env'),
    ).toMatchObject({
      dataRoot: '/flag',
      dataDir: '/flag-app',
      gatewaySocket: '/s.sock',
      adapterParameters: '/flag/twitter-api-adapter/connection-parameters.json',
    });
  });
});
