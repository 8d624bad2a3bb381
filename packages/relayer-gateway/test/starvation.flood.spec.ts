/**
 * Starvation of the PogRPC ports by connections that only hold a slot, against the real daemons
 * (bin/user-gateway, bin/relayer-gateway, bin/relay as child processes; the adapter's PublicEndpoint
 * in this process, see world.ts): CONNECTIONS silent TCP connections on each PogRPC port, each coming
 * back 200 ms after it is closed, the flood that once kept the relaying gateway from delivering to the
 * adapter for 75 s. While it goes on, a message crosses both ports over new connections (the
 * relaying gateway is restarted first, so it has no connection to the adapter and listens on a new
 * port): the relaying gateway process delivers it to the adapter's port, and the adapter's reply goes
 * to the relaying gateway's port. Latencies are measured and reported against a baseline taken the
 * same way without the flood.
 *
 * POGRPC_FLOOD_CONNECTIONS per port (default 300; the long run of `npm run test:faults` uses 500);
 * POGRPC_FLOOD_SECONDS: keep sending round trips until the flood has lasted this long (default 0: one).
 * With FAULTS_REPORT=<file>, the figures are appended as one JSON line.
 */
import { appendFileSync } from 'node:fs';

import { silent, startFlood, type Flood } from '@twitter-relaynet/binding-conformance';
import { DEFAULT_MAX_CONNECTIONS } from '@twitter-relaynet/pogrpc';

import { buildExecutables, waitFor, World } from './world';

const CONNECTIONS = Number(process.env.POGRPC_FLOOD_CONNECTIONS ?? 300);
const FLOOD_SECONDS = Number(process.env.POGRPC_FLOOD_SECONDS ?? 0);

jest.setTimeout(180_000 + FLOOD_SECONDS * 2_000);

let world: World;
let alice: Awaited<ReturnType<World['openApp']>>;

beforeAll(async () => {
  buildExecutables();
  world = new World();
  await world.start();
  alice = await world.openAppKnownToAdapter('alice');
}, 120_000);

afterAll(async () => {
  await world?.close();
});

/** Restart the relaying gateway: afterwards neither side holds a connection to the other. */
async function restartRelayer(): Promise<void> {
  await world.relayer.stop();
  await world.relayer.start();
}

/** Until the server has closed more of the flood's connections than the flood has beyond the cap. */
async function untilFull(flood: Flood): Promise<void> {
  await waitFor('the flood to fill the port', () => flood.stats().closedByServer >= CONNECTIONS - DEFAULT_MAX_CONNECTIONS, 30_000);
}

/**
 * One round trip; resolves to the time each PogRPC crossing took: `toAdapter` from the start of the courier's run at
 * the relaying gateway to the message at the adapter, `toRelayer` from the adapter's reply to its parcel stored
 * at the relaying gateway. Each waits `patienceMs` at most.
 */
async function roundTrip(text: string, patienceMs: number): Promise<{ toAdapter: number; toRelayer: number }> {
  await alice.send(text);
  expect((await world.courier.run('user')).status).toBe(0);
  const handedOver = performance.now();
  expect((await world.courier.run('relayer')).status).toBe(0);
  await waitFor(`"${text}" at the adapter`, () => world.adapterInbox.contents().includes(text), patienceMs);
  const toAdapter = performance.now() - handedOver;
  const replied = performance.now();
  const reply = await world.reply(alice.app.id, `re: ${text}`);
  await world.waitUntilQueuedAtRelayer([reply], patienceMs);
  return { toAdapter, toRelayer: performance.now() - replied };
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round = (values: readonly number[]) => values.map(Math.round);

test(`${CONNECTIONS} silent connections coming back on each PogRPC port: messages still cross both during the flood`, async () => {
  expect(CONNECTIONS).toBeGreaterThan(DEFAULT_MAX_CONNECTIONS);
  const baseline: Array<{ toAdapter: number; toRelayer: number }> = [];
  for (let i = 0; i < 2; i++) {
    await restartRelayer();
    baseline.push(await roundTrip(`baseline ${i}`, 30_000));
  }
  // Generous, and relative to this machine's pace; before the fix nothing crossed for tens of seconds.
  const patienceMs = Math.max(15_000, 20 * Math.max(...baseline.map((b) => b.toAdapter + b.toRelayer)));

  const adapterFlood = startFlood(world.pogrpcTarget('twitter-api-adapter'), CONNECTIONS, [silent], { reconnectAfterMs: 200 });
  const relayerFloods: Flood[] = [];
  const floodStarted = performance.now();
  const underFlood: Array<{ toAdapter: number; toRelayer: number }> = [];
  const floodOpen: number[] = [];
  try {
    await untilFull(adapterFlood);
    for (let i = 0; i === 0 || performance.now() - floodStarted < FLOOD_SECONDS * 1_000; i++) {
      await relayerFloods.at(-1)?.stop();
      await restartRelayer();
      relayerFloods.push(startFlood(world.pogrpcTarget('relayer-gateway'), CONNECTIONS, [silent], { reconnectAfterMs: 200 }));
      await untilFull(relayerFloods.at(-1)!);
      underFlood.push(await roundTrip(`under flood ${i}`, patienceMs));
      process.stdout.write(`round trip ${i} during the flood: ${JSON.stringify(underFlood[i])}\n`);
      // Still during the flood: most slots of both servers are held by flood connections.
      for (const flood of [adapterFlood, relayerFloods.at(-1)!]) {
        floodOpen.push(flood.stats().open);
        expect(flood.stats().open).toBeGreaterThan(DEFAULT_MAX_CONNECTIONS / 2);
      }
    }
  } finally {
    await Promise.all([adapterFlood, ...relayerFloods].map((flood) => flood.stop()));
  }
  expect(world.relayer.running && world.userGateway.running).toBe(true);

  const figures = {
    suite: 'pogrpc-flood-daemons',
    connectionsPerPort: CONNECTIONS,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    floodSeconds: Math.round((performance.now() - floodStarted) / 100) / 10,
    baselineMs: { toAdapter: round(baseline.map((b) => b.toAdapter)), toRelayer: round(baseline.map((b) => b.toRelayer)) },
    roundTrips: underFlood.length,
    toAdapterMs: { median: Math.round(median(underFlood.map((u) => u.toAdapter))), max: Math.round(Math.max(...underFlood.map((u) => u.toAdapter))) },
    toRelayerMs: { median: Math.round(median(underFlood.map((u) => u.toRelayer))), max: Math.round(Math.max(...underFlood.map((u) => u.toRelayer))) },
    floodOpenAtDelivery: { min: Math.min(...floodOpen) },
    adapterFlood: adapterFlood.stats(),
    relayerFloods: relayerFloods.map((flood) => flood.stats()),
  };
  process.stdout.write(`pogrpc starvation flood (daemons): ${JSON.stringify(figures)}\n`);
  if (process.env.FAULTS_REPORT) appendFileSync(process.env.FAULTS_REPORT, `${JSON.stringify(figures)}\n`);
});
