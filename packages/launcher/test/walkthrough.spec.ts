/**
 * The README's walk-through, run as written: `npm start` in the background, then the README's commands as child
 * processes (through a shell, from the repository root, like a user pasting them), against the real daemons, in a
 * fresh data root. The X API emulator is checked through its API, and its page is read and used as a user would.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DEFAULT_CREDENTIALS, DEFAULT_USER, createEmulatorClient } from '@twitter-relaynet/x-api-emulator';

import { chromiumAvailable, launchChromium } from '@twitter-relaynet/test-support/browser';
import { freePort } from '../src/demo';
import { readWalkthrough } from './readme';
import { Background, eventually as eventuallyFor, Shell } from './shell';

jest.setTimeout(240_000);

const walkthrough = readWalkthrough();
let dataRoot: string;
let emulatorUrl: string;
let system: Background | null = null;
const shell = new Shell({});
const sh = (command: string) => shell.run(command);

function eventually<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs?: number,
  intervalMs?: number,
): Promise<T> {
  const context = () =>
    `npm start output (tail):\n${(system?.output ?? '').slice(-4000)}\nCommands:\n${shell.transcript.slice(-8).join('\n')}`;
  return eventuallyFor(what, probe, context, timeoutMs, intervalMs);
}

/** Run the README's courier commands; a relay with nothing to do exits 3, which is fine. */
async function courier(): Promise<void> {
  for (const command of walkthrough.courier) {
    const result = await sh(command);
    if (result.status !== 0 && result.status !== 3) {
      throw new Error(`"${command}" failed (exit ${result.status}):\n${result.stderr}`);
    }
  }
}

async function timeline(): Promise<string> {
  let out = '';
  for (const command of walkthrough.timeline) {
    const result = await sh(command);
    expect(result.status).toBe(0);
    out += result.stdout;
  }
  return out;
}

function emulator() {
  return createEmulatorClient(emulatorUrl, {
    appKey: DEFAULT_CREDENTIALS.appKey,
    appSecret: DEFAULT_CREDENTIALS.appSecret,
    accessToken: DEFAULT_CREDENTIALS.accessToken,
    accessSecret: DEFAULT_CREDENTIALS.accessSecret,
  });
}

async function emulatorTweets(text: string): Promise<Array<{ id: string; text: string; author_id?: string }>> {
  const page = await emulator().v2.get<{ data?: Array<{ id: string; text: string; author_id?: string }> }>(
    `users/${DEFAULT_USER.id}/timelines/reverse_chronological`,
    {
      max_results: 100,
      expansions: 'author_id',
    },
  );
  return ((page.data ?? []) as Array<{ id: string; text: string; author_id?: string }>).filter(
    (tweet) => tweet.text === text,
  );
}

/** The text of the tweet in the README's tweet command. */
function readmeTweetText(): string {
  const command = walkthrough.tweet.find((line) => /twitter-app tweet /.test(line));
  const match = command?.match(/tweet "([^"]+)"/);
  if (!match) throw new Error('The README\'s tweet block has no `bin/twitter-app tweet "..."` command');
  return match[1];
}

beforeAll(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), 'walkthrough-'));
  const port = await freePort();
  emulatorUrl = `http://127.0.0.1:${port}`;
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TWITTER_')));
  shell.env = {
    ...inherited,
    RELAYNET_DATA_ROOT: dataRoot,
    X_API_EMULATOR_PORT: String(port),
    // The launcher and the adapter use the emulator whatever the repository's .env says.
    TWITTER_API_BASE_URL: emulatorUrl,
    TWITTER_APP_ENV_FILE: join(dataRoot, 'none.env'),
    TWITTER_API_ADAPTER_ENV_FILE: join(dataRoot, 'none.env'),
    // Free ports instead of the fixed defaults, so that a running `npm start` does not get in the way.
    RELAYER_GATEWAY_POGRPC_ADDRESS: '127.0.0.1:0',
    RELAYER_GATEWAY_COGRPC_ADDRESS: '127.0.0.1:0',
    TWITTER_API_ADAPTER_POGRPC_ADDRESS: '127.0.0.1:0',
    TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: '1000',
    NO_COLOR: '1',
  };
});

afterAll(async () => {
  // After a failure, stop the system the way a user would (the launcher then stops its children).
  await system?.stop();
  rmSync(dataRoot, { recursive: true, force: true });
});

test('the README has the four walk-through blocks, starting with npm start', () => {
  expect(walkthrough.start).toEqual(['npm start']);
  expect(walkthrough.tweet.every((line) => line.startsWith('bin/twitter-app'))).toBe(true);
  expect(walkthrough.courier).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^bin\/relay user-gateway/),
      expect.stringMatching(/^bin\/relay relayer-gateway/),
    ]),
  );
});

test("the walk-through: a tweet reaches the X API and its outcome the app; a followed account's tweet reaches the app", async () => {
  // Before anything runs (a fresh data root, never registered): the tweet is kept, and the user is told so.
  const earlyText = `Typed before anything ran (${Date.now()})`;
  const early = await sh(`bin/twitter-app tweet "${earlyText}"`);
  expect(early.status).toBe(3);
  expect(early.stdout).toMatch(
    /^Tweet saved \(id [0-9a-f-]{36}\): 1 tweet queued in the app, nothing is lost; the next twitter-app command that reaches the user gateway sends it/,
  );
  expect(early.stderr).toMatch(/^twitter-app: user gateway not reachable at .*: start it with npm start\n$/);
  expect((await sh('bin/twitter-app status')).stdout).toMatch(
    /^Tweets: 1 queued in the app, 0 with the user gateway, 0 confirmed, 0 failed$/m,
  );

  // Terminal 1: npm start, in its own process group so that "Ctrl-C" reaches npm and the launcher together.
  system = new Background(walkthrough.start[0], shell.env);
  await eventually('the adapter to publish its connection parameters', async () =>
    existsSync(join(dataRoot, 'twitter-api-adapter', 'connection-parameters.json')) ? true : null,
  );
  await eventually('every process of npm start to print its first lines', async () =>
    ['x-api-emulator', 'relayer-gateway', 'user-gateway', 'twitter-api-adapter'].every((name) =>
      new RegExp(`^${name} +\\| `, 'm').test(system!.output),
    )
      ? true
      : null,
  );
  await eventually('the adapter to say it is ready', async () =>
    /^twitter-api-adapter +\| twitter-api-adapter: ready$/m.test(system!.output) ? true : null,
  );
  expect(system!.output).toMatch(/^twitter-api-adapter +\| .*timeline sync every 1000 ms/m); // the environment reaches the daemons
  // As the README says: the courier can start once the user gateway has registered with the relaying gateway.
  await eventually('the user gateway to register with the relaying gateway', async () =>
    /^user-gateway +\| .*Registered with the relaying gateway/m.test(system!.output) ? true : null,
  );

  // The README's timeline command registers the app and sends the tweet kept since before npm start (exit 3 while the
  // user gateway is still starting means "try again").
  await eventually('the timeline command to send the tweet typed before npm start', async () => {
    const result = await sh(walkthrough.timeline[0]);
    if (result.status === 3) return null;
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      'Gave the user gateway 1 tweet queued earlier: on its way, posted once a courier carries it.\n',
    );
    return true;
  });

  // Terminal 2: the tweet (the user gateway may still be starting: exit 3 means "try again").
  const tweetText = readmeTweetText();
  for (const command of walkthrough.tweet) {
    await eventually(`"${command}" to reach the user gateway`, async () => {
      const result = await sh(command);
      if (result.status === 3) return null;
      expect(result.status).toBe(0);
      return true;
    });
  }

  // The courier goes back and forth until the tweet is on the emulator and its outcome in the app.
  let shown = '';
  await eventually(
    'the tweet to reach the emulator and its outcome the app',
    async () => {
      await courier();
      shown += await timeline();
      return shown.includes(`posted "${tweetText}"`) && shown.includes(`posted "${earlyText}"`) ? true : null;
    },
    120_000,
    0,
  );
  expect(await emulatorTweets(earlyText)).toHaveLength(1);
  const posted = await emulatorTweets(tweetText);
  expect(posted).toHaveLength(1); // posted exactly once
  expect(posted[0].author_id).toBe(DEFAULT_USER.id);
  expect(shown).toContain(`x.com/${DEFAULT_USER.username}/status/${posted[0].id}`);

  // The emulator's page shows it, and a followed account posts there with the form: in Chromium, as a person would
  // (CI always has it; elsewhere without it, plain HTTP does the same requests).
  const followedText = `Printed on paper, carried by hand (${Date.now()})`;
  if (chromiumAvailable() || process.env.CI) {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${emulatorUrl}/`);
      expect(await page.locator(`#home-timeline li[data-tweet-id="${posted[0].id}"] .text`).textContent()).toBe(
        tweetText,
      );
      await page.selectOption('#author', 'awala_news');
      await page.fill('#text', followedText);
      await Promise.all([page.waitForURL(/\?posted=\d+$/), page.click('#compose button[type="submit"]')]);
      expect((await page.locator('#home-timeline li.tweet .text').allTextContents())[0]).toBe(followedText);
    } finally {
      await browser.close();
    }
  } else {
    expect(await (await fetch(`${emulatorUrl}/`)).text()).toContain(tweetText);
    const response = await fetch(`${emulatorUrl}/web/tweet`, {
      method: 'POST',
      body: new URLSearchParams({ author: 'awala_news', text: followedText }),
      redirect: 'manual',
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/posted=/);
  }

  await eventually(
    "the followed account's tweet to reach the app",
    async () => {
      await courier();
      shown += await timeline();
      return shown.includes(followedText) ? true : null;
    },
    120_000,
    0,
  );
  expect(shown).toMatch(new RegExp(`@awala_news\\) · .*\\n +${followedText.replace(/[()]/g, '\\$&')}`));

  // Nothing left queued that should have gone, nothing posted twice.
  const status = await sh('bin/twitter-app status');
  expect(status.status).toBe(0);
  expect(status.stdout).toMatch(/^Tweets: 0 queued in the app, 0 with the user gateway, 2 confirmed, 0 failed$/m);
  expect(status.stdout).toMatch(/Subscription: home timeline until .*; confirmed by the adapter/);
  expect(await emulatorTweets(tweetText)).toHaveLength(1);
  expect(await emulatorTweets(earlyText)).toHaveLength(1);

  // Ctrl-C: every process stops cleanly (npm itself then ends by the same signal, as npm does on SIGINT).
  system.interrupt();
  const exit = await system.exit;
  expect(exit.code === 0 || exit.signal === 'SIGINT').toBe(true);
  expect(system!.output).toContain('All stopped.');
  for (const name of ['x-api-emulator', 'relayer-gateway', 'user-gateway', 'twitter-api-adapter']) {
    expect(system!.output).toMatch(new RegExp(`^${name} stopped$`, 'm')); // exit status 0, not killed
  }
});
