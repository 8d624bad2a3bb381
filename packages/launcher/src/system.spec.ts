import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cogrpcAddressFrom, DEFAULT_COGRPC_ADDRESS, EMULATOR_SYNC_INTERVAL_MS, systemProcesses } from './system';

const adapterOf = (specs: ReturnType<typeof systemProcesses>) =>
  specs.find((spec) => spec.name === 'twitter-api-adapter')!;
const relayerOf = (specs: ReturnType<typeof systemProcesses>) => specs.find((spec) => spec.name === 'relayer-gateway')!;

test('with the emulator: four processes sharing the data root; the adapter pointed at the emulator; the user gateway last', () => {
  const specs = systemProcesses({ dataRoot: '/data', realApi: false, emulatorPort: 9999, env: { PATH: '/bin' } });
  expect(specs.map((spec) => spec.name)).toEqual([
    'x-api-emulator',
    'relayer-gateway',
    'twitter-api-adapter',
    'user-gateway',
  ]);
  for (const spec of specs) expect(spec.env).toMatchObject({ RELAYNET_DATA_ROOT: '/data', PATH: '/bin' });
  expect(specs[0].args).toEqual(expect.arrayContaining(['--port', '9999', '--data-dir', '/data/x-api-emulator']));
  expect(adapterOf(specs).env).toMatchObject({
    TWITTER_API_BASE_URL: 'http://127.0.0.1:9999',
    TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: String(EMULATOR_SYNC_INTERVAL_MS),
  });
  expect(relayerOf(specs).args).toEqual(['--data-root', '/data', '--address-book', '/data/launcher/address-book.json']);
});

test("the user's own sync interval is kept", () => {
  const specs = systemProcesses({
    dataRoot: '/data',
    realApi: false,
    env: { TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: '2500' },
  });
  expect(adapterOf(specs).env?.TWITTER_API_ADAPTER_SYNC_INTERVAL_MS).toBe('2500');
});

test('with the real X API: no emulator, and the adapter keeps the configured base URL', () => {
  const specs = systemProcesses({
    dataRoot: '/data',
    realApi: true,
    env: { TWITTER_API_BASE_URL: 'https://api.x.com' },
  });
  expect(specs.map((spec) => spec.name)).toEqual(['relayer-gateway', 'twitter-api-adapter', 'user-gateway']);
  expect(adapterOf(specs).env?.TWITTER_API_BASE_URL).toBe('https://api.x.com');
  expect(adapterOf(specs).env?.TWITTER_API_ADAPTER_SYNC_INTERVAL_MS).toBeUndefined();
});

test('CogRPC for couriers: on by default on the port RS-008 suggests; the variable moves it, set empty it turns it off', () => {
  expect(DEFAULT_COGRPC_ADDRESS).toBe('127.0.0.1:21473');
  expect(cogrpcAddressFrom({})).toBe(DEFAULT_COGRPC_ADDRESS);
  expect(cogrpcAddressFrom({ RELAYER_GATEWAY_COGRPC_ADDRESS: '127.0.0.1:0' })).toBe('127.0.0.1:0');
  expect(cogrpcAddressFrom({ RELAYER_GATEWAY_COGRPC_ADDRESS: ' ' })).toBeNull();
  const env = (variables: NodeJS.ProcessEnv) =>
    relayerOf(systemProcesses({ dataRoot: '/data', realApi: true, env: variables })).env;
  expect(env({})?.RELAYER_GATEWAY_COGRPC_ADDRESS).toBe(DEFAULT_COGRPC_ADDRESS);
  expect(env({ RELAYER_GATEWAY_COGRPC_ADDRESS: '0.0.0.0:21473' })?.RELAYER_GATEWAY_COGRPC_ADDRESS).toBe(
    '0.0.0.0:21473',
  );
  expect(env({ RELAYER_GATEWAY_COGRPC_ADDRESS: '' })?.RELAYER_GATEWAY_COGRPC_ADDRESS).toBe('');
});

describe("the wiring, from what each daemon published to the next one's configuration", () => {
  const root = mkdtempSync(join(tmpdir(), 'system-wiring-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const publish = (path: string, document: object) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, JSON.stringify(document));
  };

  test("waits for a publication of this run (not one left by an earlier run), then passes it on; the address book keeps the user's entries", async () => {
    const userBook = join(root, 'mine.json');
    writeFileSync(userBook, JSON.stringify({ 'other.example': { address: 'other.example:443' } }));
    const servers: unknown[] = [];
    const specs = systemProcesses({
      dataRoot: root,
      realApi: true,
      env: { RELAYER_GATEWAY_ADDRESS_BOOK: userBook },
      onRelayerGateway: (published) => servers.push(published),
    });
    const signal = new AbortController().signal;
    const relayer = relayerOf(specs);
    const adapter = adapterOf(specs);
    // Left by an earlier run, before this one starts.
    publish(join(root, 'relayer-gateway', 'pogrpc.json'), { address: '127.0.0.1:1', tlsCertificatePem: 'OLD' });
    expect(await relayer.prepare!(signal)).toEqual([]);
    expect(JSON.parse(readFileSync(join(root, 'launcher', 'address-book.json'), 'utf8'))).toEqual({
      'other.example': { address: 'other.example:443' },
    });
    let ready = false;
    const relayerReady = relayer.ready!(signal).then(() => (ready = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ready).toBe(false);
    const pem = '-----BEGIN CERTIFICATE-----\nRELAYER\n-----END CERTIFICATE-----\n';
    publish(join(root, 'relayer-gateway', 'pogrpc.json'), { address: '127.0.0.1:2', tlsCertificatePem: pem });
    publish(join(root, 'relayer-gateway', 'cogrpc.json'), { address: '127.0.0.1:3', tlsCertificatePem: pem });
    await relayerReady;
    expect(servers).toEqual([
      {
        pogrpc: { address: '127.0.0.1:2', tlsCertificatePem: pem },
        cogrpc: { address: '127.0.0.1:3', tlsCertificatePem: pem },
      },
    ]);

    const certificate = join(root, 'launcher', 'relayer-gateway-pogrpc.pem');
    expect(await adapter.prepare!(signal)).toEqual([
      '--relaying-gateway',
      '127.0.0.1:2',
      '--relaying-gateway-certificate',
      certificate,
    ]);
    expect(readFileSync(certificate, 'utf8')).toBe(pem);
    const adapterReady = adapter.ready!(signal);
    publish(join(root, 'twitter-api-adapter', 'pogrpc.json'), {
      internetAddress: 'adapter.example',
      address: '127.0.0.1:4',
      tlsCertificatePem: 'ADAPTER',
    });
    await adapterReady;
    expect(JSON.parse(readFileSync(join(root, 'launcher', 'address-book.json'), 'utf8'))).toEqual({
      'other.example': { address: 'other.example:443' },
      'adapter.example': {
        address: '127.0.0.1:4',
        tlsCertificatePath: join(root, 'launcher', 'twitter-api-adapter-pogrpc.pem'),
      },
    });
    expect(readFileSync(join(root, 'launcher', 'twitter-api-adapter-pogrpc.pem'), 'utf8')).toBe('ADAPTER');
  });

  test('stopping while it waits ends the wait', async () => {
    const specs = systemProcesses({ dataRoot: join(root, 'stopped'), realApi: true, env: {} });
    const controller = new AbortController();
    await relayerOf(specs).prepare!(controller.signal);
    const waiting = relayerOf(specs).ready!(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });
});

test('--side: the user computer runs the user gateway alone; the Internet server everything else', () => {
  const names = (side: 'all' | 'user' | 'internet', realApi = false) =>
    systemProcesses({ dataRoot: '/data', side, realApi, env: {} }).map((spec) => spec.name);
  expect(names('user')).toEqual(['user-gateway']);
  expect(names('internet')).toEqual(['x-api-emulator', 'relayer-gateway', 'twitter-api-adapter']);
  expect(names('internet', true)).toEqual(['relayer-gateway', 'twitter-api-adapter']);
  expect(names('all')).toEqual(['x-api-emulator', 'relayer-gateway', 'twitter-api-adapter', 'user-gateway']);
});
