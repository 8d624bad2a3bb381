/** The public endpoint's outbox, delivering to a fake relaying gateway's real PogRPC server. */
import type { DeliveryReport } from '@twitter-relaynet/binding';
import { createPogRPCServer, type PogRPCServer } from '@twitter-relaynet/pogrpc';
import { waitFor } from '@twitter-relaynet/test-support';
import { MemoryLogger } from '@twitter-relaynet/core';

import {
  createMemoryStores,
  ManualClock,
  OutboxDispatcher,
  PeerError,
  PublicEndpoint,
  type GatewayRoute,
  type IncomingMessage,
} from '../src';
import { ADAPTER_ADDRESS, makePair, tempDir, text } from './helpers';

interface FakeGateway {
  readonly server: PogRPCServer;
  readonly route: GatewayRoute;
  readonly received: Buffer[];
  /** Attempts to refuse (onParcel rejects → UNAVAILABLE, nothing acked). */
  failures: number;
  attempts: number;
}

async function startFakeGateway(failures = 0): Promise<FakeGateway> {
  const gateway = { received: [] as Buffer[], failures, attempts: 0 } as unknown as FakeGateway & {
    server: PogRPCServer;
    route: GatewayRoute;
  };
  const server = await createPogRPCServer({
    address: '127.0.0.1:0',
    tls: { insecurePlaintextForTests: true },
    onParcel: async (parcel) => {
      gateway.attempts += 1;
      if (gateway.failures > 0) {
        gateway.failures -= 1;
        throw new Error('store unavailable');
      }
      gateway.received.push(parcel);
    },
  });
  Object.assign(gateway, {
    server,
    route: { target: `127.0.0.1:${server.port}`, tls: { insecurePlaintextForTests: true } },
  });
  return gateway;
}

const fastBackoff = { initialDelayMs: 50, maxDelayMs: 400, jitter: 0 };

describe('Outbox', () => {
  let pair: Awaited<ReturnType<typeof makePair>>;

  beforeAll(async () => {
    pair = await makePair();
  });

  afterAll(async () => {
    await pair.publicEndpoint.close();
    await pair.privateEndpoint.close();
  });

  async function authorize(endpoint: PublicEndpoint) {
    return pair.privateEndpoint.issuePda(endpoint.certificate, new Date(Date.now() + 86_400_000));
  }

  test('a reply reaches the relaying gateway and the private endpoint accepts it', async () => {
    const gateway = await startFakeGateway();
    const logger = new MemoryLogger();
    const adapter = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async () => undefined,
      relayingGateway: gateway.route,
      logger,
      backoff: fastBackoff,
    });
    try {
      const queued = await adapter.sendMessage(text('application/x-tweets', 'timeline'), {
        authorization: await authorize(adapter),
      });
      expect(queued.recipientId).toBe(pair.privateEndpoint.id);
      await waitFor('the parcel at the gateway', () => gateway.received.length === 1, 10_000, 20);
      await waitFor('an empty outbox', async () => (await adapter.stores.outbox.count()) === 0, 10_000, 20);
      expect(logger.find('info', /delivered to the gateway/)[0].fields.parcelId).toBe(queued.parcelId);

      const messages: IncomingMessage[] = [];
      const outcome = await pair.privateEndpoint.receiveParcel(gateway.received[0], async (m) => {
        messages.push(m);
      });
      expect(outcome.status).toBe('accepted');
      expect(messages[0].content.toString()).toBe('timeline');
      expect(messages[0].sender.id).toBe(adapter.id);
    } finally {
      await adapter.close();
      await gateway.server.close();
    }
  });

  test('retries with backoff while the gateway fails', async () => {
    const gateway = await startFakeGateway(2);
    const logger = new MemoryLogger();
    const adapter = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async () => undefined,
      relayingGateway: gateway.route,
      logger,
      backoff: fastBackoff,
    });
    try {
      const queued = await adapter.sendMessage(text('text/plain', 'persist'), {
        authorization: await authorize(adapter),
      });
      await waitFor('the parcel at the gateway', () => gateway.received.length === 1, 10_000, 20);
      expect(gateway.attempts).toBe(3);
      const retries = logger.find('warn', /will retry/);
      expect(retries.map((r) => [r.fields.parcelId, r.fields.attempts, r.fields.retryInMs])).toEqual([
        [queued.parcelId, 1, 50],
        [queued.parcelId, 2, 100],
      ]);
      await waitFor('an empty outbox', async () => (await adapter.stores.outbox.count()) === 0, 10_000, 20);
    } finally {
      await adapter.close();
      await gateway.server.close();
    }
  });

  test('survives a restart: pending parcels are sent once the endpoint reopens', async () => {
    const dir = tempDir();
    const down = await startFakeGateway(Number.MAX_SAFE_INTEGER);
    const first = await PublicEndpoint.open({
      dataDir: dir.path,
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async () => undefined,
      relayingGateway: down.route,
      backoff: { initialDelayMs: 60_000, jitter: 0 },
    });
    const authorization = await authorize(first);
    const queued = await first.sendMessage(text('text/plain', 'after restart'), { authorization });
    await waitFor('an attempt', () => down.attempts >= 1, 10_000, 20);
    await first.close();
    await down.server.close();

    const up = await startFakeGateway();
    const second = await PublicEndpoint.open({
      dataDir: dir.path,
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async () => undefined,
      relayingGateway: up.route,
    });
    try {
      expect(second.id).toBe(first.id);
      expect(await second.stores.outbox.count()).toBe(1);
      // Due in a minute (backoff); deliver now.
      const [entry] = await second.stores.outbox.listDue(new Date(Date.now() + 120_000), 10);
      await second.stores.outbox.reschedule(entry.parcelId, new Date(), entry.attempts);
      await second.flushOutbox();
      expect(up.received).toHaveLength(1);
      expect(await second.stores.outbox.count()).toBe(0);
      const outcome = await pair.privateEndpoint.receiveParcel(up.received[0], async () => undefined);
      expect(outcome).toMatchObject({ status: 'accepted', parcelId: queued.parcelId });
    } finally {
      await second.close();
      await up.server.close();
      dir.cleanup();
    }
  });

  test('expired entries are dropped with a log line', async () => {
    const clock = new ManualClock();
    const gateway = await startFakeGateway(Number.MAX_SAFE_INTEGER);
    const logger = new MemoryLogger();
    const adapter = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async () => undefined,
      relayingGateway: gateway.route,
      logger,
      clock,
      backoff: { initialDelayMs: 10_000, jitter: 0 },
    });
    try {
      const queued = await adapter.sendMessage(text('text/plain', 'short-lived'), {
        authorization: await authorize(adapter),
        ttlSeconds: 60,
      });
      await waitFor('an attempt', () => gateway.attempts >= 1, 10_000, 20);
      clock.advance(61_000 + 1_000);
      const report = await adapter.flushOutbox();
      expect(report.expired).toBe(1);
      expect(await adapter.stores.outbox.count()).toBe(0);
      const [line] = logger.find('warn', /Dropped an expired parcel/);
      expect(line.fields).toMatchObject({ parcelId: queued.parcelId, recipientId: pair.privateEndpoint.id });
    } finally {
      await adapter.close();
      await gateway.server.close();
    }
  });

  test('refuses to send with a PDA issued to someone else', async () => {
    const adapter = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async () => undefined,
    });
    try {
      const forOther = await pair.privateEndpoint.issuePda(
        pair.publicEndpoint.certificate,
        new Date(Date.now() + 86_400_000),
      );
      await expect(adapter.sendMessage(text('text/plain', 'x'), { authorization: forOther })).rejects.toBeInstanceOf(
        PeerError,
      );
    } finally {
      await adapter.close();
    }
  });

  test('delivers through any parcel client of the binding contract: acked parcels leave, the rest wait', async () => {
    const clock = new ManualClock();
    const stores = createMemoryStores();
    const entry = (parcelId: string) => ({
      parcelId,
      recipientId: 'recipient',
      gatewayAddress: null,
      parcel: Buffer.from(parcelId),
      expiryDate: new Date(clock.now().getTime() + 86_400_000),
      nextAttemptDate: clock.now(),
      attempts: 0,
    });
    await stores.outbox.add(entry('taken'));
    await stores.outbox.add(entry('left'));
    const delivered: string[] = [];
    let closed = 0;
    const dispatcher = new OutboxDispatcher({
      outbox: stores.outbox,
      clock,
      logger: new MemoryLogger(),
      resolve: () => ({ target: 'in-memory', tls: { insecurePlaintextForTests: true } }),
      backoff: { initialDelayMs: 1_000, jitter: 0 },
      connect: () => ({
        async deliverParcels(parcels): Promise<DeliveryReport<'parcel'>> {
          const acked: string[] = [];
          const unacked = [];
          for await (const { id = 'no id', parcel } of parcels) {
            if (id !== 'taken') unacked.push({ id, parcel });
            else {
              acked.push(id);
              delivered.push(parcel.toString());
            }
          }
          return { acked, unacked, error: new Error('connection lost') };
        },
        close: () => void closed++,
      }),
    });

    const report = await dispatcher.flush();

    expect(report).toEqual({ delivered: 1, failed: 1, expired: 0 });
    expect(delivered).toEqual(['taken']);
    const [left] = await stores.outbox.listDue(new Date(clock.now().getTime() + 1_000), 10);
    expect(left).toMatchObject({ parcelId: 'left', attempts: 1 });
    expect(await stores.outbox.count()).toBe(1);
    expect(closed).toBe(1); // a failed call drops its client
    await dispatcher.stop();
  });
});
