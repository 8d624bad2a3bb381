/**
 * `npm run demo`: the README's walk-through, performed and narrated by a program. In a fresh data root it starts
 * the whole system, tweets with bin/twitter-app, plays the courier with bin/relay between the two gateways until
 * the tweet is on the X API emulator, posts a tweet as a followed account on the emulator's page, and plays the
 * courier again until that tweet and the outcome of the user's own tweet are in the app. It succeeds only when
 * both crossed the sneakernet.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DEFAULT_CREDENTIALS, DEFAULT_USER, createEmulatorClient } from '@twitter-relaynet/x-api-emulator';

import { bin } from './layout';
import { Supervisor, type SupervisorResult } from './supervisor';
import { emulatorBaseUrl, systemProcesses } from './system';

/** The followed account the demo posts as on the emulator's page. */
export const DEMO_AUTHOR = 'awala_news';
/** How long the whole round trip may take before the demo gives up. */
export const DEFAULT_DEMO_TIMEOUT_MS = 180_000;
/** The adapter's timeline sync interval during the demo. */
const DEMO_SYNC_INTERVAL_MS = 1000;

export interface DemoOptions {
  /** Where the system keeps its state; default a new temporary folder, removed afterwards unless `keep`. */
  readonly dataRoot?: string;
  readonly keep?: boolean;
  readonly timeoutMs?: number;
  readonly write?: (text: string) => void;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly dataRoot: string;
  /** What failed, when not ok. */
  readonly failure?: string;
}

interface CommandResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

class DemoFailure extends Error {}

/** A TCP port free on 127.0.0.1 right now (for the emulator of a demo or a test). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The environment of every process of the demo: nothing from the user's own X configuration leaks in. */
function demoEnvironment(dataRoot: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TWITTER_') && !name.startsWith('RELAYER_GATEWAY_') && !name.startsWith('USER_GATEWAY_')) {
      env[name] = value;
    }
  }
  const noDotenv = join(dataRoot, 'no-such.env');
  return {
    ...env,
    RELAYNET_DATA_ROOT: dataRoot,
    TWITTER_APP_ENV_FILE: noDotenv,
    TWITTER_API_ADAPTER_ENV_FILE: noDotenv,
    RELAYER_GATEWAY_POGRPC_ADDRESS: '127.0.0.1:0',
    RELAYER_GATEWAY_COGRPC_ADDRESS: '127.0.0.1:0',
    TWITTER_API_ADAPTER_POGRPC_ADDRESS: '127.0.0.1:0',
    TWITTER_API_ADAPTER_SYNC_INTERVAL_MS: String(DEMO_SYNC_INTERVAL_MS),
  };
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const dataRoot = options.dataRoot ?? mkdtempSync(join(tmpdir(), 'twitter-relaynet-demo-'));
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_DEMO_TIMEOUT_MS);
  const env = demoEnvironment(dataRoot);
  const logPath = join(dataRoot, 'demo-daemons.log');
  let step = 0;
  const say = (text: string) => write(`\n${++step}. ${text}\n`);
  const detail = (text: string) =>
    write(text.replace(/^/gm, '   ').replace(/ +$/gm, '') + (text.endsWith('\n') ? '' : '\n'));

  const run = (name: string, args: readonly string[], quiet = false): Promise<CommandResult> => {
    if (!quiet)
      write(`   $ ${[`bin/${name}`, ...args.map((arg) => (/[\s"'!?]/.test(arg) ? `'${arg}'` : arg))].join(' ')}\n`);
    return new Promise((resolve, reject) => {
      const child = spawn(bin(name), [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      child.on('error', reject);
      child.on('close', (status) => {
        const result = { status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
        if (!quiet) {
          const shown = (result.stdout + result.stderr).trim();
          if (shown) detail(shown.replace(/^/gm, '  '));
        }
        resolve(result);
      });
    });
  };

  const expectStatus = (what: string, result: CommandResult, accepted: readonly number[]) => {
    if (result.status === null || !accepted.includes(result.status)) {
      throw new DemoFailure(`${what} exited with status ${result.status}: ${(result.stderr || result.stdout).trim()}`);
    }
  };

  const remaining = () => deadline - Date.now();
  const until = async <T>(what: string, probe: () => Promise<T | null | undefined>, intervalMs = 500): Promise<T> => {
    for (;;) {
      const value = await probe();
      if (value !== null && value !== undefined) return value;
      if (remaining() <= 0) throw new DemoFailure(`Timed out waiting for ${what}`);
      await sleep(intervalMs);
    }
  };

  const emulatorPort = await freePort();
  const baseUrl = emulatorBaseUrl(emulatorPort);
  const log = createWriteStream(logPath, { flags: 'a' });
  const supervisor = new Supervisor(systemProcesses({ dataRoot, realApi: false, emulatorPort, env }), {
    write: (line) => log.write(line),
  });
  let crashed: SupervisorResult | null = null;
  const stopped = supervisor.start().then((result) => {
    crashed = result.firstExit ? result : null;
    return result;
  });
  const assertRunning = () => {
    const result = crashed as SupervisorResult | null;
    if (result?.firstExit) {
      const { name, code, signal, error } = result.firstExit;
      throw new DemoFailure(
        error ? `${name} could not be started: ${error}` : `${name} stopped unexpectedly (exit ${code ?? signal})`,
      );
    }
  };

  const stamp = new Date().toISOString().slice(11, 19);
  const tweetText = `Hello from the sneakernet! (demo ${stamp} UTC)`;
  const followedText = `News for the offline world, posted on the emulator at ${stamp} UTC`;
  const emulator = createEmulatorClient(baseUrl, {
    appKey: DEFAULT_CREDENTIALS.appKey,
    appSecret: DEFAULT_CREDENTIALS.appSecret,
    accessToken: DEFAULT_CREDENTIALS.accessToken,
    accessSecret: DEFAULT_CREDENTIALS.accessSecret,
  });
  const emulatorHas = async (text: string): Promise<string | null> => {
    const page = await emulator.v2.get<{ data?: Array<{ id: string; text: string; author_id?: string }> }>(
      `users/${DEFAULT_USER.id}/timelines/reverse_chronological`,
      { max_results: 100 },
    );
    return ((page.data ?? []) as Array<{ id: string; text: string }>).find((tweet) => tweet.text === text)?.id ?? null;
  };

  /** The courier at the user's computer: deliver what was brought back, collect new cargo and a CCA. */
  const atUserGateway = async () => {
    expectStatus(
      'relay user-gateway',
      await run('relay', ['user-gateway', '--wait', '0', '--no-progress'], true),
      [0, 3],
    );
  };
  /** The courier on the Internet side: deliver the user's cargo, wait for the answers, collect them. */
  const atRelayingGateway = async () => {
    expectStatus(
      'relay relayer-gateway',
      await run('relay', ['relayer-gateway', '--wait', '2', '--no-progress'], true),
      [0, 3],
    );
  };

  write(`Twitter over Relaynet: a tweet and a timeline update across the sneakernet, in ${dataRoot}\n`);
  let succeeded = false;
  try {
    say(
      'Start the system: x-api-emulator, relayer-gateway, user-gateway, twitter-api-adapter (npm start does this too).',
    );
    detail(`Their logs go to ${logPath}; the emulator is at ${baseUrl}/`);
    const adapterParameters = join(dataRoot, 'twitter-api-adapter', 'connection-parameters.json');
    await until('the adapter to publish its connection parameters', async () => {
      assertRunning();
      return existsSync(adapterParameters) ? true : null;
    });

    say(
      'The user subscribes to the home timeline: the app registers with the user gateway and queues an UpdateSubscription.',
    );
    await until('the user gateway to accept the app', async () => {
      assertRunning();
      const result = await run('twitter-app', ['subscribe'], true);
      if (result.status === 0) {
        detail(result.stdout.trim() || 'subscribed');
        return true;
      }
      if (result.status === 3) return null; // the gateway is still starting
      throw new DemoFailure(`twitter-app subscribe exited with status ${result.status}: ${result.stderr.trim()}`);
    });

    say('The user tweets (offline: the tweet waits at the user gateway).');
    expectStatus('twitter-app tweet', await run('twitter-app', ['tweet', tweetText]), [0]);

    say("The courier plugs the flashdrive into the user's computer: the relay collects the cargo (and a CCA).");
    await until(
      'the user gateway to register with the relaying gateway and hand over cargo',
      async () => {
        assertRunning();
        const result = await run('relay', ['user-gateway', '--wait', '0', '--no-progress'], true);
        // Exit 0 alone may mean it only took the registration request (the courier's way to register): wait for
        // the cargo, which comes once the user gateway is registered (on one machine, through the shared folder).
        if (result.status === 0 && /collected [1-9]\d* cargo/.test(result.stderr)) {
          detail(result.stderr.trim().split('\n').pop() ?? '');
          return true;
        }
        if (result.status === 0 || result.status === 3) return null;
        throw new DemoFailure(`relay user-gateway exited with status ${result.status}: ${result.stderr.trim()}`);
      },
      1000,
    );

    say(
      'The courier reaches the Internet: the relay delivers the cargo to the relaying gateway, which hands the parcels to the adapter, which posts the tweet.',
    );
    expectStatus(
      'relay relayer-gateway',
      await run('relay', ['relayer-gateway', '--wait', '2', '--no-progress']),
      [0, 3],
    );
    const postedId = await until('the tweet to appear on the X API emulator', async () => {
      assertRunning();
      return emulatorHas(tweetText);
    });
    detail(`The emulator has it: tweet ${postedId} by @${DEFAULT_USER.username}, "${tweetText}" (see ${baseUrl}/)`);

    say(`Someone the user follows, @${DEMO_AUTHOR}, tweets (posted with the form on the emulator's page).`);
    const form = new URLSearchParams({ author: DEMO_AUTHOR, text: followedText });
    const response = await fetch(`${baseUrl}/web/tweet`, { method: 'POST', body: form, redirect: 'manual' });
    const location = response.headers.get('location') ?? '';
    if (response.status !== 303 || !location.includes('posted=')) {
      throw new DemoFailure(
        `The emulator's form refused the tweet: ${response.status} ${decodeURIComponent(location)}`,
      );
    }
    detail(`"${followedText}"`);

    say(
      'The courier goes back and forth; each time the user opens the app, until the outcome of the tweet and the new timeline tweet have arrived.',
    );
    let sawOutcome = false;
    let sawTimeline = false;
    let round = 0;
    while (!(sawOutcome && sawTimeline)) {
      assertRunning();
      if (remaining() <= 0) {
        throw new DemoFailure(
          `Timed out: ${sawOutcome ? '' : "the tweet's outcome"}${!sawOutcome && !sawTimeline ? ' and ' : ''}${sawTimeline ? '' : `@${DEMO_AUTHOR}'s tweet`} never reached the app`,
        );
      }
      round += 1;
      write(
        `   courier trip ${round}: back at the user's computer, bin/relay user-gateway; the user runs bin/twitter-app timeline\n`,
      );
      await atUserGateway();
      const timeline = await run('twitter-app', ['timeline'], true);
      expectStatus('twitter-app timeline', timeline, [0]);
      // What the user already saw on an earlier trip is not news for the narration.
      const news = timeline.stdout.replace(/^Earlier tweets \(\d+\):\n(?: .*\n)*/m, '').trim();
      if (news !== 'No new tweets.') detail(news.replace(/^/gm, '  '));
      sawOutcome ||= timeline.stdout.includes(`posted "${tweetText}"`);
      sawTimeline ||= timeline.stdout.includes(followedText);
      if (!(sawOutcome && sawTimeline)) {
        await sleep(DEMO_SYNC_INTERVAL_MS);
        write('   ... and to the Internet side again: bin/relay relayer-gateway\n');
        await atRelayingGateway();
      }
    }

    say("Nothing is left waiting: the app's status.");
    const status = await run('twitter-app', ['status']);
    expectStatus('twitter-app status', status, [0]);

    succeeded = true;
    write(
      "\nThe tweet reached the X API (emulator) and a followed account's tweet reached the app, both by flashdrive.\n",
    );
    return { ok: true, dataRoot };
  } catch (error) {
    const failure = error instanceof Error ? error.message : String(error);
    write(`\nDEMO FAILED: ${failure}\n`);
    await new Promise<void>((resolve) => log.write('', () => resolve()));
    if (existsSync(logPath)) {
      const lines = readFileSync(logPath, 'utf8').trimEnd().split('\n');
      write(`Last lines of ${logPath}:\n${lines.slice(-30).join('\n')}\n`);
    }
    return { ok: false, dataRoot, failure };
  } finally {
    supervisor.stop();
    await stopped;
    await new Promise<void>((resolve) => log.end(() => resolve()));
    // A failed demo keeps its data root and logs for inspection.
    if (succeeded && !options.keep && !options.dataRoot) rmSync(dataRoot, { recursive: true, force: true });
    else write(`The data root stays in ${dataRoot}\n`);
  }
}
