import { EMULATOR_SYNC_INTERVAL_MS, systemProcesses } from './system';

const adapterOf = (specs: ReturnType<typeof systemProcesses>) => specs.find((spec) => spec.name === 'twitter-api-adapter')!;

test('with the emulator: four processes sharing the data root; the adapter pointed at the emulator', () => {
  const specs = systemProcesses({ dataRoot: '/data', realApi: false, emulatorPort: 9999, env: { PATH: '/bin' } });
  expect(specs.map((spec) => spec.name)).toEqual(['x-api-emulator', 'relayer-gateway', 'user-gateway', 'twitter-api-adapter']);
  for (const spec of specs) expect(spec.env).toMatchObject({ RELAYNET_DATA_ROOT: '/data', PATH: '/bin' });
  expect(specs[0].args).toEqual(expect.arrayContaining(['--port', '9999', '--data-dir', '/data/x-api-emulator']));
  expect(adapterOf(specs).env).toMatchObject({
    TWITTER_API_BASE_URL: 'http://127.0.0.1:9999',
    TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: String(EMULATOR_SYNC_INTERVAL_MS),
  });
});

test("the user's own sync interval is kept", () => {
  const specs = systemProcesses({ dataRoot: '/data', realApi: false, env: { TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: '2500' } });
  expect(adapterOf(specs).env?.TWITTER_API_ADAPTER_SYNC_INTERVAL_MS).toBe('2500');
});

test('with the real X API: no emulator, and the adapter keeps the configured base URL', () => {
  const specs = systemProcesses({ dataRoot: '/data', realApi: true, env: { TWITTER_API_BASE_URL: 'https://api.x.com' } });
  expect(specs.map((spec) => spec.name)).toEqual(['relayer-gateway', 'user-gateway', 'twitter-api-adapter']);
  expect(adapterOf(specs).env?.TWITTER_API_BASE_URL).toBe('https://api.x.com');
  expect(adapterOf(specs).env?.TWITTER_API_ADAPTER_SYNC_INTERVAL_MS).toBeUndefined();
});
