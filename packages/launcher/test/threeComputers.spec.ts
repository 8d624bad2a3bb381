/**
 * The README's "Running on three computers", run from the README's own text: the Internet server, the user's
 * computer and the courier's each have a home folder of their own (so a data root of their own: nothing tells one
 * where another's is), the flashdrive is the only folder that two of them touch, and the courier reaches the
 * server over TCP only (CogRPC with TLS, the certificate checked against the fingerprint the server printed).
 * The user gateway starts never registered: the courier registers it, then carries the tweet and brings back its
 * outcome and the timeline.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DEFAULT_CREDENTIALS, DEFAULT_USER, createEmulatorClient } from '@twitter-relaynet/x-api-emulator';

import { freePort } from '../src/demo';
import { readBlocks } from './readme';
import { Background, eventually as eventuallyFor, Shell } from './shell';

jest.setTimeout(300_000);

const blocks = readBlocks('three-computers', ['internet', 'user', 'courier', 'back'] as const);
const ROOT = mkdtempSync(join(tmpdir(), 'three-computers-'));
const FLASHDRIVE = join(ROOT, 'usb'); // mounted: it exists before any relay runs
const transcript: string[] = [];
const systems: Background[] = [];
/** What the README leaves to the reader, filled in: the server's name, its fingerprint, the flashdrive. */
const filled: Record<string, string> = { '/media/usb': FLASHDRIVE };

/** One computer: its own home (so its own data root), the same clone of the repository. */
function computer(name: string, extra: NodeJS.ProcessEnv = {}): Shell {
  const home = join(ROOT, name);
  mkdirSync(home);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([variable]) => !variable.startsWith('TWITTER_') && !variable.startsWith('RELAY') && variable !== 'XDG_DATA_HOME',
    ),
  );
  return new Shell(
    { ...inherited, HOME: home, NO_COLOR: '1', TWITTER_APP_ENV_FILE: join(home, 'none.env'), ...extra },
    transcript,
  );
}

function fill(command: string): string {
  return Object.entries(filled).reduce((text, [placeholder, value]) => text.split(placeholder).join(value), command);
}

function dataRoot(shell: Shell): string {
  return join(shell.env.HOME!, '.local', 'share', 'twitter-relaynet');
}

function eventually<T>(what: string, probe: () => Promise<T | null>): Promise<T> {
  const context = () =>
    `${systems.map((system) => system.output.slice(-3000)).join('\n---\n')}\nCommands:\n${transcript.slice(-8).join('\n')}`;
  return eventuallyFor(what, probe, context);
}

async function run(shell: Shell, command: string, allowed: number[] = [0]): Promise<string> {
  const result = await shell.run(fill(command));
  if (!allowed.includes(result.status ?? -1)) {
    throw new Error(
      `"${fill(command)}" exited ${result.status}:\n${result.stdout}${result.stderr}\n${transcript.slice(-6).join('\n')}`,
    );
  }
  return result.stdout + result.stderr;
}

function background(shell: Shell, command: string): Background {
  const system = new Background(fill(command), shell.env);
  systems.push(system);
  return system;
}

let emulatorUrl: string;
let server: Shell;
let user: Shell;
let courier: Shell;

beforeAll(async () => {
  mkdirSync(FLASHDRIVE);
  emulatorUrl = `http://127.0.0.1:${await freePort()}`;
  server = computer('server', {
    X_API_EMULATOR_PORT: new URL(emulatorUrl).port,
    TWITTER_API_BASE_URL: emulatorUrl,
    TWITTER_API_ADAPTER_ENV_FILE: join(ROOT, 'none.env'),
    TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: '1000',
    RELAYER_GATEWAY_POGRPC_ADDRESS: '127.0.0.1:0',
    TWITTER_API_ADAPTER_POGRPC_ADDRESS: '127.0.0.1:0',
  });
  user = computer('user');
  courier = computer('courier');
});

afterAll(async () => {
  await Promise.all(systems.map((system) => system.stop()));
  rmSync(ROOT, { recursive: true, force: true });
});

test('the README has the blocks of each computer, each starting with its side of npm start', () => {
  expect(blocks.internet[0]).toMatch(/^RELAYER_GATEWAY_COGRPC_ADDRESS=0\.0\.0\.0:21473 npm start -- --side internet$/);
  expect(blocks.user[0]).toBe('npm start -- --side user');
  expect(blocks.courier).toEqual([
    expect.stringMatching(/^bin\/relay relayer-gateway .*--gateway server\.example:21473 .*FINGERPRINT/),
  ]);
  expect(blocks.back[0]).toMatch(/^bin\/relay user-gateway --flashdrive \/media\/usb$/);
});

test('three computers: a never-registered user gateway is registered by the courier, and the tweet and its outcome travel', async () => {
  // The Internet server. On any free port here rather than 21473 (another npm start may have it).
  const internet = background(server, blocks.internet[0].replace('0.0.0.0:21473', '127.0.0.1:0'));
  const [, address, fingerprint] = await eventually(
    'the server to print its CogRPC address and fingerprint',
    async () => /^CogRPC for couriers: (\S+) \(TLS certificate SHA-256 ([0-9a-f]{64})\)$/m.exec(internet.output),
  );
  filled['server.example:21473'] = address;
  filled.FINGERPRINT = fingerprint;
  await eventually('the adapter to be ready', async () =>
    /twitter-api-adapter: ready$/m.test(internet.output) ? true : null,
  );
  for (const command of blocks.internet.slice(1)) await run(server, command);

  // The user's computer: its npm start runs the user gateway alone.
  const home = background(user, blocks.user[0]);
  await eventually('the user gateway to be ready', async () =>
    /user-gateway: ready$/m.test(home.output) ? true : null,
  );
  expect(home.output).not.toMatch(/relayer-gateway|twitter-api-adapter|x-api-emulator/);
  const tweetCommand = blocks.user.find((command) => / tweet "/.test(command))!;
  const tweetText = /tweet "([^"]+)"/.exec(tweetCommand)![1];
  for (const command of blocks.user.slice(1)) await run(user, command);
  expect(readdirSync(join(FLASHDRIVE, 'relayer-gw', 'registration')).some((name) => name.endsWith('.request'))).toBe(
    true,
  );

  // Trips until the outcome is back: the first registers the user gateway, the second carries the tweet.
  let shown = '';
  let trips = 0;
  await eventually('the tweet to be posted and its outcome to reach the app', async () => {
    trips++;
    for (const command of blocks.courier) await run(courier, command, [0, 3]);
    for (const command of blocks.back) shown += await run(user, command, [0, 3]);
    return shown.includes(`posted "${tweetText}"`) ? true : null;
  });
  expect(trips).toBeLessThanOrEqual(4);
  expect(home.output).toMatch(/Registered with the relaying gateway/);

  // Posted exactly once, by the user, on the emulator of the server's side.
  const emulator = createEmulatorClient(emulatorUrl, DEFAULT_CREDENTIALS);
  const page = await emulator.v2.get<{ data?: Array<{ id: string; text: string; author_id?: string }> }>(
    `users/${DEFAULT_USER.id}/timelines/reverse_chronological`,
    { max_results: 100 },
  );
  expect((page.data ?? []).filter((tweet) => tweet.text === tweetText)).toHaveLength(1);
  const status = await run(user, 'bin/twitter-app --adapter-parameters ~/adapter-connection-parameters.json status');
  expect(status).toMatch(/^Tweets: 0 queued in the app, 0 with the user gateway, 1 confirmed, 0 failed$/m);

  // Nothing of one side lives on the other: each data root holds its own side's processes only, and the courier's
  // computer has no data root at all (it reached the server over TCP).
  expect(existsSync(join(dataRoot(user), 'relayer-gateway'))).toBe(false);
  expect(existsSync(join(dataRoot(user), 'twitter-api-adapter'))).toBe(false);
  expect(existsSync(join(dataRoot(server), 'user-gateway'))).toBe(false);
  expect(existsSync(dataRoot(courier))).toBe(false);
});
