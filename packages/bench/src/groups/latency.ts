/**
 * The `latency` group: one tweet from `twitter-app tweet` to the X API emulator through two relay
 * runs with `--wait 0`, with every executable as users run it (bin/twitter-app, bin/user-gateway,
 * bin/relay, bin/relayer-gateway, bin/twitter-api-adapter, the emulator), and its wall time split
 * by stage:
 *
 * - app: `twitter-app tweet` from spawn to exit (node start-up, the parcel made and stored by the
 *   user gateway);
 * - relayAtUserGateway, relayAtRelayingGateway: the two bin/relay runs;
 * - relayingGatewayToAdapter: until the relaying gateway logs the PogRPC delivery;
 * - adapterToX: until the adapter logs that the emulator accepted the tweet.
 *
 * The app registers and subscribes first, and that subscription makes one untimed trip. Nothing
 * reads the user's .env: both the app and the adapter get an empty one, and the emulator's
 * documented credentials.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { runProcess } from '@twitter-relaynet/test-support';

import { type BenchGroup, type GroupContext } from '../harness';
import { Daemon, Network, REPO, waitFor } from '../network';

const STEP_MS = 5;
const TIMEOUT_MS = 60_000;
const STAGES = [
  'app',
  'relayAtUserGateway',
  'relayAtRelayingGateway',
  'relayingGatewayToAdapter',
  'adapterToX',
] as const;

export const latencyGroup: BenchGroup = {
  name: 'latency',
  description: 'One tweet from `twitter-app tweet` to the X API emulator through two relay runs (--wait 0), by stage',
  run: runLatency,
};

/** The environment of the app and the adapter: no TWITTER_* from the caller (the emulator's credentials). */
function cleanEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TWITTER_')));
}

async function runLatency({ figures, log }: GroupContext): Promise<void> {
  const emulator = new Daemon('x-api-emulator', ['--port', '0', '--quiet'], {
    command: [process.execPath, join(REPO, 'packages', 'x-api-emulator', 'dist', 'bin', 'x-api-emulator.js')],
    readyText: 'X API emulator listening on ',
    env: cleanEnvironment(),
  });
  const network = new Network();
  const emptyEnvFile = network.path('empty.env');
  writeFileSync(emptyEnvFile, '');
  const adapter = new Daemon(
    'twitter-api-adapter',
    [
      '--data-root',
      network.root,
      '--pogrpc-address',
      '127.0.0.1:0',
      '--sync-interval-ms',
      '3600000',
      '--env-file',
      emptyEnvFile,
    ],
    { env: cleanEnvironment() },
  );
  const app = async (...args: string[]): Promise<number> => {
    const started = performance.now();
    const { status, stdout, stderr } = await runProcess(
      join(REPO, 'bin', 'twitter-app'),
      ['--data-root', network.root, '--env-file', emptyEnvFile, ...args],
      { env: cleanEnvironment(), cwd: process.cwd() },
    );
    const output = stdout + stderr;
    if (status !== 0) throw new Error(`twitter-app ${args[0]} exited with ${status}:\n${output}`);
    return performance.now() - started;
  };
  try {
    await emulator.start();
    const url = /listening on (\S+)/.exec(emulator.output)?.[1];
    if (!url) throw new Error(`Cannot read the emulator's address from: ${emulator.output}`);
    log(`latency: daemons in ${network.root}, emulator at ${url}`);
    await network.start({
      startAdapter: async () => {
        adapter.setArgs(['--api-base-url', url, ...network.relayerFlags()]);
        await adapter.start();
        network.addAdapterToAddressBook();
      },
    });
    // Register and subscribe; the subscription reaches the adapter on an untimed trip.
    await app('subscribe');
    await network.relayOk('user');
    await network.relayOk('relayer');
    await waitFor('the adapter to store the subscription', () => adapter.count('Subscription stored') >= 1, TIMEOUT_MS);

    const deliveredBefore = network.relayer.count('Parcel delivered to public endpoint');
    const postedBefore = adapter.count('Tweet posted');
    const stages: number[] = [];
    stages.push(await app('tweet', `Latency benchmark ${new Date().toISOString()}`));
    stages.push((await network.relayOk('user')).ms);
    stages.push((await network.relayOk('relayer')).ms);
    let mark = performance.now();
    await waitFor(
      'the relaying gateway to deliver the tweet',
      () => network.relayer.count('Parcel delivered to public endpoint') > deliveredBefore,
      TIMEOUT_MS,
      STEP_MS,
    );
    stages.push(performance.now() - mark);
    mark = performance.now();
    await waitFor(
      'the adapter to post the tweet',
      () => adapter.count('Tweet posted') > postedBefore,
      TIMEOUT_MS,
      STEP_MS,
    );
    stages.push(performance.now() - mark);

    STAGES.forEach((stage, index) => figures.record(`latency.stage.${stage}`, stages[index], 'ms'));
    figures.record(
      'latency.totalMs',
      stages.reduce((sum, ms) => sum + ms, 0),
      'ms',
    );
  } finally {
    await adapter.stop();
    await network.close();
    await emulator.stop();
  }
}
