/**
 * Public endpoints by configuration only (issue 15 item 6), with the real processes: bin/relayer-gateway learns
 * where the adapter is and which TLS certificate to trust from `--public-endpoint`/`--public-endpoint-certificate`,
 * and bin/twitter-api-adapter (posting to the X API emulator) learns the relaying gateway's from
 * `--relaying-gateway`/`--relaying-gateway-certificate`. The adapter runs in a data root of its own, as on another
 * computer: neither daemon has the other's folder to read. A wrong certificate is refused, said so in the log, and
 * the parcels stay queued until the right one is configured: then each reaches the X API once.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { serializeDeliveryAuthorization } from '@twitter-relaynet/endpoint';
import { certificateFingerprint, generateSelfSignedCertificate } from '@twitter-relaynet/pogrpc';
import { serviceMessages, type UserCredentials } from '@twitter-relaynet/twitter-service';
import {
  createEmulatorClient,
  DEFAULT_USER,
  startEmulator,
  type RunningEmulator,
} from '@twitter-relaynet/x-api-emulator';

import { ADAPTER_ADDRESS, buildExecutables, REPO, type LogLine, waitFor, World } from './world';

jest.setTimeout(120_000);

const CONSUMER = { appKey: 'endpoints-test-consumer-key', appSecret: 'endpoints-test-consumer-secret' };
const dir = mkdtempSync(join(tmpdir(), 'public-endpoints-'));
const adapterRoot = join(dir, 'internet-server-2');
let emulator: RunningEmulator;
let world: World;
let user: UserCredentials;

beforeAll(async () => {
  buildExecutables('packages/twitter-api-adapter');
  emulator = await startEmulator({ port: 0, dataDir: join(dir, 'emulator'), credentials: CONSUMER });
  user = { accessToken: emulator.credentials.accessToken, accessSecret: emulator.credentials.accessSecret };
  world = new World({
    adapterProcess: {
      apiBaseUrl: emulator.url,
      consumer: { key: CONSUMER.appKey, secret: CONSUMER.appSecret },
      dataRoot: adapterRoot,
      route: 'flags',
    },
  });
  await world.start();
}, 120_000);

afterAll(async () => {
  await world?.close();
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

const adapterLog = (msg: string) => world.adapterProcess!.logs().filter((line) => line.msg === msg);
const relayerLog = (msg: string, match: (line: LogLine) => boolean = () => true) =>
  world.relayer.logs().filter((line) => line.msg.startsWith(msg) && match(line));

async function restartRelayerWith(flags: readonly string[]): Promise<void> {
  world.relayerFlags = flags;
  await world.relayer.stop();
  await world.relayer.start();
}

test("each data root holds only its own daemon's folder: nothing of the other to read", () => {
  expect(readdirSync(adapterRoot).filter((name) => !name.startsWith('.'))).toEqual(['twitter-api-adapter']);
  expect(readdirSync(world.root)).not.toContain('twitter-api-adapter');
  expect(statSync(join(world.root, 'relayer-gateway')).isDirectory()).toBe(true);
});

test("neither daemon's code names the other's folder (a path join or a path under it)", () => {
  const sources = (pkg: string) =>
    readdirSync(join(REPO, 'packages', pkg, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
      .map((file) => ({
        file: `${pkg}/src/${file}`,
        text: readFileSync(join(REPO, 'packages', pkg, 'src', file), 'utf8'),
      }));
  const mentions = (pkg: string, folder: string) =>
    sources(pkg).flatMap(({ file, text }) =>
      text
        .split('\n')
        .flatMap((line, index) =>
          line.includes(`'${folder}'`) || line.includes(`${folder}/`) ? [`${file}:${index + 1}: ${line.trim()}`] : [],
        ),
    );
  expect(mentions('relayer-gateway', 'twitter-api-adapter')).toEqual([]);
  expect(mentions('twitter-api-adapter', 'relayer-gateway')).toEqual([]);
});

test('a wrong certificate is refused with a clear log line and the parcels stay queued; with the right one they are delivered, each tweet posted once, and the outcome comes back to the relaying gateway given to the adapter by flag', async () => {
  const adapter = world.adapterPublication();
  expect(adapter.internetAddress).toBe(ADAPTER_ADDRESS);
  const wrong = join(dir, 'wrong.pem');
  writeFileSync(wrong, generateSelfSignedCertificate().certificatePem);
  await restartRelayerWith([
    '--public-endpoint',
    `${ADAPTER_ADDRESS}=${adapter.address}`,
    '--public-endpoint-certificate',
    `${ADAPTER_ADDRESS}=${wrong}`,
  ]);
  expect(world.relayer.stdout).toContain(
    `relayer-gateway: public endpoint ${ADAPTER_ADDRESS} at ${adapter.address} (TLS certificate SHA-256 ${certificateFingerprint(readFileSync(wrong, 'utf8'))})`,
  );

  const tweetId = randomUUID();
  const text = `configured, not discovered ${tweetId}`;
  const alice = await world.openApp('alice', (authorization) =>
    serviceMessages.updateSubscription({
      deliveryAuthorization: serializeDeliveryAuthorization(authorization),
      credentials: user,
      creationDate: new Date(),
    }),
  );
  await alice.app.sendMessage(
    alice.adapterAddress,
    serviceMessages.tweet({ id: tweetId, text, credentials: user, creationDate: new Date() }),
  );
  expect((await world.courier.run('user')).status).toBe(0);
  expect((await world.courier.run('relayer')).status).toBe(0);

  const refusal = await waitFor('the refusal of the wrong certificate', () =>
    relayerLog('Public endpoint refused: its TLS certificate is not the one configured for it').at(0),
  );
  expect(refusal).toMatchObject({
    level: 'error',
    target: adapter.address,
    route: 'configuration',
    internetAddress: ADAPTER_ADDRESS,
    expectedSha256: certificateFingerprint(readFileSync(wrong, 'utf8')),
  });
  expect(refusal.msg).toContain('its parcels stay queued');
  // A second try (the route's backoff is 1 s) fails the same way: still queued, never dropped.
  await waitFor('a second refused try', () => relayerLog('Public endpoint refused').length >= 2, 30_000);
  expect(relayerLog('Parcel delivered to public endpoint')).toEqual([]);
  expect(relayerLog('Parcel', (line) => /expired|dropped|discarded/i.test(line.msg))).toEqual([]);
  expect(adapterLog('Subscription stored')).toEqual([]);

  // The operator copies the adapter's certificate (the one whose fingerprint it printed) to the relaying gateway.
  const right = join(dir, 'adapter-pogrpc.pem');
  copyFileSync(join(adapterRoot, 'twitter-api-adapter', 'pogrpc-tls-cert.pem'), right);
  expect(world.adapterProcess!.stdout).toContain(certificateFingerprint(readFileSync(right, 'utf8')));
  await restartRelayerWith([
    '--public-endpoint',
    `${ADAPTER_ADDRESS}=${adapter.address}`,
    '--public-endpoint-certificate',
    `${ADAPTER_ADDRESS}=${right}`,
  ]);
  await waitFor(
    'the subscription and the tweet at the adapter',
    () => adapterLog('Subscription stored').length >= 1 && adapterLog('Tweet posted').length >= 1,
    60_000,
  );
  // The relaying gateway logs a delivery once it has committed it, which can be after the adapter's lines.
  await waitFor(
    'both parcels logged as delivered by the configured route',
    () => relayerLog('Parcel delivered to public endpoint', (line) => line.route === 'configuration').length >= 2,
    30_000,
  );

  // The outcome goes to the relaying gateway the adapter was given (its own root has no trace of it).
  const outcome = await waitFor('the outcome at the adapter', () =>
    world
      .adapterProcess!.logs()
      .find((line) => line.msg === 'Tweet outcome queued for the app' && line.tweetId === tweetId),
  );
  expect(outcome.status).toBe('posted');
  await world.waitUntilQueuedAtRelayer([outcome.outcomeParcelId as string], 30_000);
  const client = createEmulatorClient(emulator.url, emulator.credentials);
  const page = await client.v2.get<{ data?: Array<{ id: string; text: string; author_id?: string }> }>(
    `users/${DEFAULT_USER.id}/timelines/reverse_chronological`,
    { max_results: 100 },
  );
  expect((page.data as Array<{ text: string }>).filter((tweet) => tweet.text === text)).toHaveLength(1);
});

test('usage errors: a certificate for an address without --public-endpoint, an unreadable certificate, a malformed address book', () => {
  const run = (...args: string[]) =>
    spawnSync(join(REPO, 'bin', 'relayer-gateway'), ['--data-root', join(dir, 'usage-root'), ...args], {
      encoding: 'utf8',
    });
  const book = join(dir, 'bad-book.json');
  writeFileSync(book, '{"twitter-api-adapter.relaynet.local": "127.0.0.1:1"}');
  const cases: Array<[string[], RegExp]> = [
    [
      ['--public-endpoint-certificate', `${ADAPTER_ADDRESS}=${join(dir, 'x.pem')}`],
      /--public-endpoint-certificate: twitter-api-adapter\.relaynet\.local has no --public-endpoint/,
    ],
    [
      [
        '--public-endpoint',
        `${ADAPTER_ADDRESS}=127.0.0.1:1`,
        '--public-endpoint-certificate',
        `${ADAPTER_ADDRESS}=${join(dir, 'x.pem')}`,
      ],
      /cannot read .*x\.pem \(ENOENT\)/,
    ],
    [['--public-endpoint', 'not a domain=127.0.0.1:1'], /is not an Internet address/],
    [['--public-endpoint', `${ADAPTER_ADDRESS}=localhost`], /--public-endpoint must be host:port/],
    [['--address-book', book], /the entry of twitter-api-adapter\.relaynet\.local needs "address"/],
  ];
  for (const [args, message] of cases) {
    const result = run(...args);
    expect({ args, status: result.status }).toEqual({ args, status: 2 });
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  }
});
