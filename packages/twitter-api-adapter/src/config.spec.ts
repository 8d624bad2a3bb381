import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { ConfigurationError, X_API_EMULATOR_CREDENTIALS } from '@twitter-relaynet/config';
import { generateSelfSignedCertificate } from '@twitter-relaynet/pogrpc';

import {
  DEFAULT_API_BASE_URL,
  DEFAULT_INTERNET_ADDRESS,
  DEFAULT_POGRPC_ADDRESS,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_TIMELINE_PAGE_SIZE,
  defaultEnvFile,
  ENV,
  loadConfig,
  type AdapterFlags,
  type Env,
} from './config';

const dir = mkdtempSync(join(tmpdir(), 'adapter-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const missingEnvFile = join(dir, 'missing.env');

function envFile(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const GATEWAY = '127.0.0.1:21477';

/** loadConfig without the repository's own .env, and with the one required setting, the relaying gateway. */
function load(flags: AdapterFlags, env: Env = {}): ReturnType<typeof loadConfig> {
  return loadConfig({ relayingGateway: GATEWAY, ...flags }, { HOME: dir, ...env }, missingEnvFile);
}

/** A self-signed certificate (PEM) in a file. */
function certificateFile(name: string): { path: string; pem: string } {
  const { certificatePem } = generateSelfSignedCertificate();
  const path = join(dir, name);
  writeFileSync(path, certificatePem);
  return { path, pem: certificatePem };
}

function configError(run: () => unknown): ConfigurationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('defaults', () => {
  test('with nothing but the relaying gateway configured: the emulator with its seeded consumer credentials, documented paths and ports', () => {
    const config = load({});
    const root = join(dir, '.local', 'share', 'twitter-relaynet');
    expect(config).toMatchObject({
      dataRoot: root,
      dataDir: join(root, 'twitter-api-adapter'),
      pogrpcAddress: DEFAULT_POGRPC_ADDRESS,
      internetAddress: DEFAULT_INTERNET_ADDRESS,
      relayingGateway: { target: GATEWAY, tls: { caPem: expect.stringContaining('BEGIN CERTIFICATE') } },
      relayingGatewayCertificate: null,
      syncIntervalMs: DEFAULT_SYNC_INTERVAL_MS,
      timelinePageSize: DEFAULT_TIMELINE_PAGE_SIZE,
      envFile: missingEnvFile,
      envFileFound: false,
      connectionParametersPath: join(root, 'twitter-api-adapter', 'connection-parameters.json'),
      pogrpcPublicationPath: join(root, 'twitter-api-adapter', 'pogrpc.json'),
      api: {
        baseUrl: DEFAULT_API_BASE_URL,
        isRealApi: false,
        consumerKey: X_API_EMULATOR_CREDENTIALS.appKey,
        consumerSecret: X_API_EMULATOR_CREDENTIALS.appSecret,
        credentialsSource: 'emulator defaults',
      },
    });
    expect(DEFAULT_SYNC_INTERVAL_MS).toBe(90_000);
  });

  test("the default .env is the repository root's", () => {
    expect(defaultEnvFile()).toBe(resolve(__dirname, '..', '..', '..', '.env'));
  });
});

describe('precedence: flag > environment > .env > default', () => {
  const file = envFile('precedence.env', [
    'TWITTER_API_ADAPTER_POGRPC_ADDRESS=127.0.0.1:3',
    'TWITTER_API_ADAPTER_SYNC_INTERVAL_MS=3000',
    'TWITTER_API_ADAPTER_INTERNET_ADDRESS=dotenv.example',
    'TWITTER_API_BASE_URL=http://127.0.0.1:3',
    'TWITTER_CONSUMER_KEY=dotenv-key',
    'TWITTER_CONSUMER_SECRET=dotenv-secret',
    'RELAYNET_DATA_ROOT=/not/from/dotenv',
  ]);
  const env: Env = {
    TWITTER_API_ADAPTER_ENV_FILE: file,
    TWITTER_API_ADAPTER_POGRPC_ADDRESS: '127.0.0.1:2',
    TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: '2000',
    TWITTER_API_BASE_URL: 'http://127.0.0.1:2',
  };

  test('a flag wins over the environment', () => {
    const config = load(
      { pogrpcAddress: '127.0.0.1:1', syncIntervalMs: '1000', apiBaseUrl: 'http://127.0.0.1:1' },
      env,
    );
    expect([config.pogrpcAddress, config.syncIntervalMs, config.api.baseUrl]).toEqual([
      '127.0.0.1:1',
      1000,
      'http://127.0.0.1:1',
    ]);
  });

  test('the environment wins over .env', () => {
    const config = load({}, { ...env, TWITTER_CONSUMER_KEY: 'env-key', TWITTER_CONSUMER_SECRET: 'env-secret' });
    expect([config.pogrpcAddress, config.syncIntervalMs, config.api.baseUrl]).toEqual([
      '127.0.0.1:2',
      2000,
      'http://127.0.0.1:2',
    ]);
    expect(config.api).toMatchObject({
      consumerKey: 'env-key',
      consumerSecret: 'env-secret',
      credentialsSource: 'environment',
    });
  });

  test('.env wins over the default; only TWITTER_* variables are read from it', () => {
    const config = load({}, { TWITTER_API_ADAPTER_ENV_FILE: file });
    expect(config.envFileFound).toBe(true);
    expect(config.envFile).toBe(file);
    expect([config.pogrpcAddress, config.syncIntervalMs, config.internetAddress, config.api.baseUrl]).toEqual([
      '127.0.0.1:3',
      3000,
      'dotenv.example',
      'http://127.0.0.1:3',
    ]);
    expect(config.api).toMatchObject({
      consumerKey: 'dotenv-key',
      consumerSecret: 'dotenv-secret',
      credentialsSource: '.env',
    });
    expect(config.dataRoot).not.toBe('/not/from/dotenv');
  });

  test('--env-file wins over TWITTER_API_ADAPTER_ENV_FILE', () => {
    const other = envFile('other.env', ['TWITTER_API_ADAPTER_SYNC_INTERVAL_MS=4000']);
    expect(load({ envFile: other }, { TWITTER_API_ADAPTER_ENV_FILE: file }).syncIntervalMs).toBe(4000);
  });

  test('--data-root wins over RELAYNET_DATA_ROOT; --data-dir overrides its default', () => {
    const config = load({ dataRoot: join(dir, 'flag-root') }, { RELAYNET_DATA_ROOT: join(dir, 'env-root') });
    expect(config.dataRoot).toBe(join(dir, 'flag-root'));
    expect(config.dataDir).toBe(join(dir, 'flag-root', 'twitter-api-adapter'));
    expect(load({ dataDir: join(dir, 'own') }).connectionParametersPath).toBe(
      join(dir, 'own', 'connection-parameters.json'),
    );
  });
});

describe('the relaying gateway: configuration only, never its folder', () => {
  test('--relaying-gateway and --relaying-gateway-certificate: the certificate is read at start and pinned', () => {
    const { path, pem } = certificateFile('gateway.pem');
    const config = loadConfig(
      { relayingGateway: '192.0.2.5:21477', relayingGatewayCertificate: path },
      { HOME: dir },
      missingEnvFile,
    );
    expect(config.relayingGateway).toEqual({ target: '192.0.2.5:21477', tls: { pinnedCertificatePem: pem } });
    expect(config.relayingGatewayCertificate).toBe(path);
  });

  test('from the environment or .env, flags first', () => {
    const { path, pem } = certificateFile('gateway-env.pem');
    const file = envFile('gateway.env', [
      'TWITTER_API_ADAPTER_RELAYING_GATEWAY=10.0.0.1:1',
      `TWITTER_API_ADAPTER_RELAYING_GATEWAY_CERTIFICATE=${path}`,
    ]);
    const fromFile = loadConfig({ envFile: file }, { HOME: dir }, missingEnvFile);
    expect(fromFile.relayingGateway).toEqual({ target: '10.0.0.1:1', tls: { pinnedCertificatePem: pem } });
    const fromEnv = loadConfig(
      { envFile: file },
      { HOME: dir, TWITTER_API_ADAPTER_RELAYING_GATEWAY: '10.0.0.2:2' },
      missingEnvFile,
    );
    expect(fromEnv.relayingGateway.target).toBe('10.0.0.2:2');
    expect(
      loadConfig({ envFile: file, relayingGateway: '10.0.0.3:3' }, { HOME: dir }, missingEnvFile).relayingGateway
        .target,
    ).toBe('10.0.0.3:3');
  });

  test("without it: an error naming the variable and the flag, even when the relaying gateway's folder is there", () => {
    const root = join(dir, 'shared-root');
    mkdirSync(join(root, 'relayer-gateway'), { recursive: true });
    writeFileSync(
      join(root, 'relayer-gateway', 'pogrpc.json'),
      JSON.stringify({ address: '127.0.0.1:1', tlsCertificatePem: certificateFile('x.pem').pem }),
    );
    const error = configError(() => loadConfig({ dataRoot: root }, { HOME: dir }, missingEnvFile));
    expect(error.variable).toBe(ENV.RELAYING_GATEWAY);
    expect(error.message).toMatch(/^TWITTER_API_ADAPTER_RELAYING_GATEWAY \(--relaying-gateway\) is required/);
  });

  test.each<[string, AdapterFlags, RegExp]>([
    [
      'not host:port',
      { relayingGateway: 'gateway.example' },
      /TWITTER_API_ADAPTER_RELAYING_GATEWAY \(--relaying-gateway\) must be host:port/,
    ],
    [
      'a missing certificate file',
      { relayingGatewayCertificate: join(dir, 'none.pem') },
      /TWITTER_API_ADAPTER_RELAYING_GATEWAY_CERTIFICATE \(--relaying-gateway-certificate\): cannot read .*none\.pem \(ENOENT\)/,
    ],
    [
      'a file that is no certificate',
      { relayingGatewayCertificate: missingEnvFile.replace('missing.env', 'precedence.env') },
      /is not a PEM certificate/,
    ],
  ])('%s: a clear error', (_what, flags, message) => {
    expect(configError(() => load(flags)).message).toMatch(message);
  });

  test('an empty variable in the environment counts as unset', () => {
    expect(load({}, { TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: '  ' }).syncIntervalMs).toBe(DEFAULT_SYNC_INTERVAL_MS);
  });
});

describe('real X API detection', () => {
  const credentials = { TWITTER_CONSUMER_KEY: 'k', TWITTER_CONSUMER_SECRET: 's' };

  test.each([
    ['https://api.x.com', true, 'https://api.x.com'],
    ['https://api.twitter.com/', true, 'https://api.twitter.com'],
    ['http://api.x.com', false, 'http://api.x.com'],
    ['https://api.x.com/proxy/', false, 'https://api.x.com/proxy'],
    ['http://127.0.0.1:8085/', false, 'http://127.0.0.1:8085'],
    ['https://x-proxy.example', false, 'https://x-proxy.example'],
  ])('%s: real %s', (url, isRealApi, baseUrl) => {
    expect(load({ apiBaseUrl: url }, credentials).api).toMatchObject({ isRealApi, baseUrl });
  });

  test('the real API needs the consumer credentials', () => {
    const error = configError(() => load({ apiBaseUrl: 'https://api.x.com' }));
    expect(error.variable).toBe(ENV.CONSUMER_KEY);
    expect(error.message).toContain('TWITTER_CONSUMER_KEY');
  });
});

describe('every error names the variable', () => {
  test.each<[string, AdapterFlags, Env, string]>([
    ['a bad PogRPC address', { pogrpcAddress: 'localhost' }, {}, ENV.POGRPC_ADDRESS],
    ['a PogRPC port out of range', {}, { TWITTER_API_ADAPTER_POGRPC_ADDRESS: '127.0.0.1:70000' }, ENV.POGRPC_ADDRESS],
    ['a bad Internet address', { internetAddress: 'not a domain' }, {}, ENV.INTERNET_ADDRESS],
    ['a non-integer interval', { syncIntervalMs: '1.5' }, {}, ENV.SYNC_INTERVAL_MS],
    ['a zero interval', {}, { TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: '0' }, ENV.SYNC_INTERVAL_MS],
    ['a page size above 100', { timelinePageSize: '101' }, {}, ENV.TIMELINE_PAGE_SIZE],
    ['a page size below 5', { timelinePageSize: '4' }, {}, ENV.TIMELINE_PAGE_SIZE],
    ['a base URL that is not a URL', { apiBaseUrl: 'api.x.com' }, {}, ENV.API_BASE_URL],
    ['a base URL that is not http(s)', {}, { TWITTER_API_BASE_URL: 'ftp://api.x.com' }, ENV.API_BASE_URL],
    ['a base URL with a query', { apiBaseUrl: 'https://api.x.com/?a=b' }, {}, ENV.API_BASE_URL],
    ['a consumer key without its secret', {}, { TWITTER_CONSUMER_KEY: 'k' }, ENV.CONSUMER_SECRET],
    ['a consumer secret without its key', {}, { TWITTER_CONSUMER_SECRET: 's' }, ENV.CONSUMER_KEY],
    [
      'a placeholder consumer key',
      {},
      { TWITTER_CONSUMER_KEY: '<your key>', TWITTER_CONSUMER_SECRET: 's' },
      ENV.CONSUMER_KEY,
    ],
    [
      'a consumer secret with a quote',
      {},
      { TWITTER_CONSUMER_KEY: 'k', TWITTER_CONSUMER_SECRET: "s'" },
      ENV.CONSUMER_SECRET,
    ],
    ['an access token without its secret', {}, { TWITTER_ACCESS_TOKEN_KEY: 'a' }, ENV.ACCESS_TOKEN_SECRET],
    ['an access secret without its token', {}, { TWITTER_ACCESS_TOKEN_SECRET: 'a' }, ENV.ACCESS_TOKEN_KEY],
  ])('%s', (_what, flags, env, variable) => {
    const error = configError(() => load(flags, env));
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  test.each([
    ['a malformed line', ['TWITTER_CONSUMER_KEY'], ENV.CONSUMER_KEY, /line 1/],
    ['an empty TWITTER_* value', ['TWITTER_CONSUMER_SECRET='], ENV.CONSUMER_SECRET, /is empty/],
    ['a placeholder', ['TWITTER_CONSUMER_KEY=your_key', 'TWITTER_CONSUMER_SECRET=s'], ENV.CONSUMER_KEY, /placeholder/],
    ['a bad base URL', ['TWITTER_API_BASE_URL=nope'], ENV.API_BASE_URL, /not a URL/],
    ['a bad interval', ['TWITTER_API_ADAPTER_SYNC_INTERVAL_MS=soon'], ENV.SYNC_INTERVAL_MS, /positive integer/],
  ])('in .env: %s', (_what, lines, variable, message) => {
    const path = envFile(`bad-${variable}.env`, lines);
    const error = configError(() => load({ envFile: path }));
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toMatch(message);
  });

  test('an unreadable .env names the file and the variable that chose it', () => {
    const error = configError(() => load({ envFile: dir }));
    expect(error.variable).toBe(ENV.ENV_FILE);
    expect(error.message).toContain(dir);
  });

  test('secrets never appear in error messages about other variables', () => {
    const error = configError(() => load({}, { TWITTER_CONSUMER_SECRET: 'very-secret-value' }));
    expect(error.message).not.toContain('very-secret-value');
  });
});

describe('.env.example', () => {
  const example = resolve(__dirname, '..', '..', '..', '.env.example');

  test('copied as it is, it changes nothing: every setting is commented out', () => {
    const withExample = loadConfig({ relayingGateway: GATEWAY }, { HOME: dir }, example);
    const without = load({});
    expect({ ...withExample, envFile: undefined, envFileFound: undefined }).toEqual({
      ...without,
      envFile: undefined,
      envFileFound: undefined,
    });
    expect(withExample.envFileFound).toBe(true);
  });

  test('documents every variable the adapter reads and the user credentials the app reads', () => {
    const text = readFileSync(example, 'utf8');
    for (const variable of Object.values(ENV)) expect(text).toContain(variable);
  });
});
