import { waitFor } from '@twitter-relaynet/test-support';

import { InternetDelivery, type InternetRoute, type ParcelConnection } from './internetDelivery';
import { INTERNET_QUEUE } from './stores/types';
import { collect, makeParcelToAdapter, makeWorld, type World } from '@twitter-relaynet/test-support/gateway';

interface TestRoute extends InternetRoute {
  readonly key: string;
}

/** A public endpoint for the tests: acknowledges what `ack` says, or fails the whole call. */
class FakeEndpoint implements ParcelConnection {
  readonly calls: string[][] = [];
  closed = false;
  constructor(private readonly behaviour: { fail?: Error; ack?: (index: number) => boolean } = {}) {}

  async deliverParcels(parcels: Iterable<{ readonly id: string; readonly parcel: Buffer }>) {
    const ids = [...parcels].map((parcel) => parcel.id);
    this.calls.push(ids);
    if (this.behaviour.fail) return { acked: [], error: this.behaviour.fail };
    return { acked: ids.filter((_, index) => this.behaviour.ack?.(index) ?? true) };
  }

  close(): void {
    this.closed = true;
  }
}

let world: World;
let delivery: InternetDelivery<TestRoute> | null;
let wake: () => void = () => undefined;
beforeEach(async () => {
  world = await makeWorld();
  delivery = null;
});
afterEach(async () => {
  await delivery?.stop();
});

/** Wait for wake() (parcels queued) or the stop. */
function waitForParcels(signal: AbortSignal): Promise<void> {
  return new Promise<void>((done) => {
    wake = done;
    signal.addEventListener('abort', () => done(), { once: true });
  });
}

async function queueForInternet(ids: readonly string[]): Promise<void> {
  for (const id of ids) await world.user.receiveParcelFromEndpoint(await makeParcelToAdapter(world, { id }));
  for (const cargo of await collect(world.user.generateCargoForRelayingGateway())) {
    await world.relaying.receiveCargo(cargo.serialized);
  }
  wake();
}

function startDelivery(connect: (route: TestRoute) => ParcelConnection, resolve?: (address: string) => TestRoute) {
  delivery = new InternetDelivery<TestRoute>({
    gateway: world.relaying,
    resolve: resolve ?? ((address) => ({ key: address, target: `${address}:443`, source: 'configuration' })),
    routeKey: (route) => route.key,
    connect,
    waitForParcels,
    pollIntervalMs: 60_000,
    logger: world.relayingLogger,
  }).start();
  return delivery;
}

const queued = () => world.relayingStores.parcels.count(INTERNET_QUEUE);
const logged = (message: string) => world.relayingLogger.records.filter((record) => record.message === message);

test('parcels go out over one connection per route; acknowledged ones are deleted, the others rescheduled', async () => {
  const endpoints: FakeEndpoint[] = [];
  startDelivery(() => {
    const endpoint = new FakeEndpoint({ ack: (index) => index !== 1 });
    endpoints.push(endpoint);
    return endpoint;
  });
  await queueForInternet(['a', 'b', 'c']);
  await waitFor('the round to be committed', async () => logged('Parcel not acknowledged by public endpoint').length);
  expect(endpoints).toHaveLength(1);
  expect(endpoints[0].calls).toEqual([['0:a', '1:b', '2:c']]);
  expect(logged('Parcel delivered to public endpoint').map((record) => record.fields)).toEqual([
    { parcelId: 'a', senderId: expect.any(String), target: 'twitter.relaynet.test:443', route: 'configuration' },
    { parcelId: 'c', senderId: expect.any(String), target: 'twitter.relaynet.test:443', route: 'configuration' },
  ]);
  // "b" waits for its retry, its attempt counted.
  await waitFor('"b" rescheduled', () => logged('Parcel delivery failed; will retry').length);
  expect(await queued()).toBe(1);
  const [b] = await collect(world.relayingStores.parcels.list(INTERNET_QUEUE, { now: world.clock.now() }));
  expect([b.id, b.attempts]).toEqual(['b', 1]);
  expect(b.nextAttemptDate.getTime()).toBeGreaterThan(world.clock.now().getTime());
});

test('a parcel whose address has no route is rescheduled', async () => {
  startDelivery(
    () => new FakeEndpoint(),
    (address) => {
      throw new Error(`no route to ${address}`);
    },
  );
  await queueForInternet(['lost']);
  await waitFor('the unroutable parcel logged', () => logged('Cannot resolve the recipient address').length);
  await waitFor('it is rescheduled', () => logged('Parcel delivery failed; will retry').length);
  expect(logged('Parcel delivered to public endpoint')).toEqual([]);
  expect(await queued()).toBe(1);
});

test('a failing route: its connection is dropped, its parcels wait for the route backoff without a new try', async () => {
  const endpoints: FakeEndpoint[] = [];
  const failures: Date[] = [];
  delivery = new InternetDelivery<TestRoute>({
    gateway: world.relaying,
    resolve: (address) => ({ key: address, target: address, source: 'dns' }),
    routeKey: (route) => route.key,
    connect: () => {
      const endpoint = new FakeEndpoint({ fail: new Error('connection refused') });
      endpoints.push(endpoint);
      return endpoint;
    },
    waitForParcels,
    pollIntervalMs: 60_000,
    logger: world.relayingLogger,
    onRouteFailure: (failure) => failures.push(failure.retryAt),
  }).start();
  await queueForInternet(['a']);
  await waitFor('the route failure', () => failures.length === 1);
  expect(endpoints).toHaveLength(1);
  expect(endpoints[0].closed).toBe(true);
  await waitFor('"a" rescheduled', () => logged('Parcel delivery failed; will retry').length === 1);

  // A new parcel for the same route, while it is blocked: postponed to the end of the backoff, not tried.
  await queueForInternet(['b']);
  await waitFor('"b" postponed', async () => {
    const parcels = await collect(world.relayingStores.parcels.list(INTERNET_QUEUE, { now: world.clock.now() }));
    const b = parcels.find((parcel) => parcel.id === 'b');
    return b && b.nextAttemptDate.getTime() === failures[0].getTime() ? b : null;
  });
  expect(endpoints).toHaveLength(1);
  const parcels = await collect(world.relayingStores.parcels.list(INTERNET_QUEUE, { now: world.clock.now() }));
  expect(parcels.find((parcel) => parcel.id === 'b')!.attempts).toBe(1);
});

test('stop() waits for the round under way and closes the connections; what it cut short is left as claimed', async () => {
  let release: () => void = () => undefined;
  let started = false;
  const endpoint = new FakeEndpoint();
  const slow: ParcelConnection = {
    deliverParcels: async (parcels, options) => {
      started = true;
      await new Promise<void>((resolve) => {
        release = resolve;
        options.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      return { acked: [], error: new Error('cancelled') };
    },
    close: () => endpoint.close(),
  };
  startDelivery(() => slow);
  await queueForInternet(['a']);
  await waitFor('the delivery under way', () => started);
  await delivery!.stop();
  release();
  expect(endpoint.closed).toBe(true);
  expect(logged('Parcel not acknowledged by public endpoint')).toEqual([]);
  const [a] = await collect(world.relayingStores.parcels.list(INTERNET_QUEUE, { now: world.clock.now() }));
  expect(a.id).toBe('a');
  // Its lease is released at the next start (of the only instance).
  await expect(world.relaying.releaseDeliveryLeases()).resolves.toBe(1);
  expect((await world.relaying.nextDeliverables(1)).map((parcel) => parcel.id)).toEqual(['a']);
});
