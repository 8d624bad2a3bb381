/**
 * Starvation of the PogRPC ports by connections that only hold a slot, against the real processes
 * (bin/user-gateway, bin/relayer-gateway, bin/twitter-api-adapter posting to the X API emulator, and
 * bin/relay as the courier): CONNECTIONS silent TCP connections on each PogRPC port, each coming back
 * 200 ms after it is closed, the flood that once kept the relaying gateway from delivering to the
 * adapter for 75 s (a tweet posted 40 s late). While it goes on, a tweet crosses both ports over new
 * connections (the relaying gateway is restarted first, so it holds no connection to the adapter and
 * listens on a new port): the relaying gateway delivers it to the adapter, which posts it and sends
 * its outcome back to the relaying gateway. Latencies are measured and reported against a baseline
 * taken the same way without the flood.
 *
 * POGRPC_FLOOD_CONNECTIONS per port (default 300; the long run of `npm run test:faults` uses 500);
 * POGRPC_FLOOD_SECONDS: keep tweeting until the flood has lasted this long (default 0: one tweet).
 * With FAULTS_REPORT=<file>, the figures are appended as one JSON line.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { silent, startFlood, type Flood } from '@twitter-relaynet/test-support';
import { serializeDeliveryAuthorization } from '@twitter-relaynet/endpoint';
import { DEFAULT_MAX_CONNECTIONS } from '@twitter-relaynet/pogrpc';
import { serviceMessages, type UserCredentials } from '@twitter-relaynet/twitter-service';
import { startEmulator, type RunningEmulator } from '@twitter-relaynet/x-api-emulator';

import { buildExecutables, type LogLine, waitFor, World } from './world';

const CONNECTIONS = Number(process.env.POGRPC_FLOOD_CONNECTIONS ?? 300);
const FLOOD_SECONDS = Number(process.env.POGRPC_FLOOD_SECONDS ?? 0);
const CONSUMER = { appKey: 'starvation-test-consumer-key', appSecret: 'starvation-test-consumer-secret' };

jest.setTimeout(180_000 + FLOOD_SECONDS * 2_000);

const emulatorDir = mkdtempSync(join(tmpdir(), 'starvation-emulator-'));
let emulator: RunningEmulator;
let world: World;
let alice: Awaited<ReturnType<World['openApp']>>;
let user: UserCredentials;

beforeAll(async () => {
  buildExecutables('packages/twitter-api-adapter');
  emulator = await startEmulator({ port: 0, dataDir: emulatorDir, credentials: CONSUMER });
  user = { accessToken: emulator.credentials.accessToken, accessSecret: emulator.credentials.accessSecret };
  world = new World({
    adapterProcess: { apiBaseUrl: emulator.url, consumer: { key: CONSUMER.appKey, secret: CONSUMER.appSecret } },
  });
  await world.start();
  alice = await world.openApp('alice', (authorization) =>
    serviceMessages.updateSubscription({
      deliveryAuthorization: serializeDeliveryAuthorization(authorization),
      credentials: user,
      creationDate: new Date(),
    }),
  );
  await world.courier.run('user');
  await world.courier.run('relayer');
  await waitFor('the subscription at the adapter', () => adapterLog('Subscription stored', () => true));
}, 120_000);

afterAll(async () => {
  await world?.close();
  await emulator?.close();
  rmSync(emulatorDir, { recursive: true, force: true });
});

function adapterLog(msg: string, match: (line: LogLine) => boolean): LogLine | undefined {
  return world.adapterProcess!.logs().find((line) => line.msg === msg && match(line));
}

/** Restart the relaying gateway: afterwards neither side holds a connection to the other. */
async function restartRelayer(): Promise<void> {
  await world.relayer.stop();
  await world.relayer.start();
}

/** Until the server has closed more of the flood's connections than the flood has beyond the cap. */
async function untilFull(flood: Flood): Promise<void> {
  await waitFor(
    'the flood to fill the port',
    () => flood.stats().closedByServer >= CONNECTIONS - DEFAULT_MAX_CONNECTIONS,
    30_000,
  );
}

const logTime = (line: LogLine) => Date.parse(line.time as string);

/**
 * One tweet; resolves to the time each PogRPC crossing took (from the processes' log times): `toAdapter` from
 * the start of the courier's run at the relaying gateway to the tweet recorded by the adapter, `toRelayer`
 * from its outcome queued by the adapter (after posting it) to that parcel stored at the relaying gateway.
 * Each waits `patienceMs` at most.
 */
async function tweet(text: string, patienceMs: number): Promise<{ toAdapter: number; toRelayer: number }> {
  const tweetId = randomUUID();
  await alice.app.sendMessage(
    alice.adapterAddress,
    serviceMessages.tweet({ id: tweetId, text, credentials: user, creationDate: new Date() }),
  );
  expect((await world.courier.run('user')).status).toBe(0);
  const handedOver = Date.now();
  expect((await world.courier.run('relayer')).status).toBe(0);
  const recorded = await waitFor(
    `"${text}" at the adapter`,
    () => adapterLog('Tweet recorded; it will be posted', (l) => l.tweetId === tweetId),
    patienceMs,
  );
  const outcome = await waitFor(
    `the outcome of "${text}"`,
    () => adapterLog('Tweet outcome queued for the app', (l) => l.tweetId === tweetId),
    60_000,
  );
  expect(outcome.status).toBe('posted');
  await world.waitUntilQueuedAtRelayer([outcome.outcomeParcelId as string], patienceMs);
  const stored = world.relayer.logs().find((l) => l.msg === 'Parcel stored' && l.parcelId === outcome.outcomeParcelId)!;
  return { toAdapter: logTime(recorded) - handedOver, toRelayer: logTime(stored) - logTime(outcome) };
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const summary = (values: readonly number[]) => ({
  median: Math.round(median(values)),
  max: Math.round(Math.max(...values)),
});

test(`${CONNECTIONS} silent connections coming back on each PogRPC port: a tweet still crosses both during the flood`, async () => {
  expect(CONNECTIONS).toBeGreaterThan(DEFAULT_MAX_CONNECTIONS);
  const baseline: Array<{ toAdapter: number; toRelayer: number }> = [];
  for (let i = 0; i < 2; i++) {
    await restartRelayer();
    baseline.push(await tweet(`baseline ${i} ${randomUUID()}`, 30_000));
  }
  // Generous, and relative to this machine's pace; before the fix nothing crossed for tens of seconds.
  const patienceMs = Math.max(15_000, 20 * Math.max(...baseline.map((b) => b.toAdapter + b.toRelayer)));

  const adapterFlood = startFlood(world.pogrpcTarget('twitter-api-adapter'), CONNECTIONS, [silent], {
    reconnectAfterMs: 200,
  });
  const relayerFloods: Flood[] = [];
  const floodStarted = performance.now();
  const underFlood: Array<{ toAdapter: number; toRelayer: number }> = [];
  const floodOpen: number[] = [];
  try {
    await untilFull(adapterFlood);
    for (let i = 0; i === 0 || performance.now() - floodStarted < FLOOD_SECONDS * 1_000; i++) {
      await relayerFloods.at(-1)?.stop();
      await restartRelayer();
      relayerFloods.push(
        startFlood(world.pogrpcTarget('relayer-gateway'), CONNECTIONS, [silent], { reconnectAfterMs: 200 }),
      );
      await untilFull(relayerFloods.at(-1)!);
      underFlood.push(await tweet(`under flood ${i} ${randomUUID()}`, patienceMs));
      process.stdout.write(`tweet ${i} during the flood: ${JSON.stringify(underFlood[i])}\n`);
      // Still during the flood: most slots of both servers are held by flood connections.
      for (const flood of [adapterFlood, relayerFloods.at(-1)!]) {
        floodOpen.push(flood.stats().open);
        expect(flood.stats().open).toBeGreaterThan(DEFAULT_MAX_CONNECTIONS / 2);
      }
    }
  } finally {
    await Promise.all([adapterFlood, ...relayerFloods].map((flood) => flood.stop()));
  }
  expect(world.relayer.running && world.userGateway.running && world.adapterProcess!.running).toBe(true);

  const figures = {
    suite: 'pogrpc-flood-daemons',
    connectionsPerPort: CONNECTIONS,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    floodSeconds: Math.round((performance.now() - floodStarted) / 100) / 10,
    baselineMs: {
      toAdapter: baseline.map((b) => Math.round(b.toAdapter)),
      toRelayer: baseline.map((b) => Math.round(b.toRelayer)),
    },
    tweets: underFlood.length,
    toAdapterMs: summary(underFlood.map((u) => u.toAdapter)),
    toRelayerMs: summary(underFlood.map((u) => u.toRelayer)),
    floodOpenAtDelivery: { min: Math.min(...floodOpen) },
    adapterFlood: adapterFlood.stats(),
    relayerFloods: relayerFloods.map((flood) => flood.stats()),
  };
  process.stdout.write(`pogrpc starvation flood (daemons): ${JSON.stringify(figures)}\n`);
  if (process.env.FAULTS_REPORT) appendFileSync(process.env.FAULTS_REPORT, `${JSON.stringify(figures)}\n`);
});
