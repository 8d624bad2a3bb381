import { createCipheriv, createHash } from 'node:crypto';

import type { DeliveryInput } from '@twitter-relaynet/binding';

import type { BindingFactory, RunningServer, TestClient } from './types';

/** Short idle timeout, used only by the tests about idle detection, so that the stalled-peer test is quick. */
export const SUITE_IDLE_TIMEOUT_MS = 400;
/**
 * Idle timeout of every other test: long enough that a loaded machine (an event loop stalled for seconds, 9 MiB
 * messages encrypted and copied on a busy core) never looks like an idle peer to the server.
 */
export const SUITE_RELAXED_IDLE_TIMEOUT_MS = 30_000;

/** Deterministic pseudo-random bytes (AES-128-CTR keystream keyed by the seed), so garbage is reproducible. */
export function seededBytes(seed: number, length: number): Buffer {
  const key = createHash('sha256').update(`seed:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

/** A test message: 4-octet index, then deterministic filler; at least 4 octets. */
export function makeMessage(index: number, size: number): Buffer {
  const message = size > 4 ? seededBytes(index + 1, size) : Buffer.alloc(4);
  message.writeUInt32BE(index, 0);
  return message;
}

export const digest = (buffer: Buffer) => createHash('sha256').update(buffer).digest('hex');

/** A delivery report by position: each message's delivery id is its index in the input. */
export interface IndexedReport {
  readonly acked: readonly number[];
  readonly unacked: readonly number[];
  readonly error?: unknown;
}

/** A binding's client as the tests drive it: plain messages in, a report by index out. */
export interface IndexedClient {
  deliver(
    messages: AsyncIterable<Buffer> | Iterable<Buffer>,
    options?: { readonly signal?: AbortSignal; readonly onAck?: (index: number) => void },
  ): Promise<IndexedReport>;
  destroy(): void;
  close(): Promise<void>;
}

/**
 * Drive `client` through the binding contract: each message goes out as `{ id: index, [field]: message }`, and
 * every message the report hands back unacknowledged must be the very octets sent under that id.
 */
export function indexedClient<Field extends string>(client: TestClient<Field>, field: Field): IndexedClient {
  return {
    async deliver(messages, options = {}) {
      const pulled = new Map<string, Buffer>();
      async function* items(): AsyncGenerator<DeliveryInput<Field>> {
        let index = 0;
        for await (const message of messages) {
          const id = String(index++);
          pulled.set(id, message);
          yield { id, [field]: message } as DeliveryInput<Field>;
        }
      }
      const report = await client.deliver(items(), {
        signal: options.signal,
        onAck: (id) => options.onAck?.(Number(id)),
      });
      for (const item of report.unacked) expect(item[field].equals(pulled.get(item.id)!)).toBe(true);
      return {
        acked: report.acked.map(Number),
        unacked: report.unacked.map((item) => Number(item.id)),
        error: report.error,
      };
    },
    destroy: () => client.destroy(),
    close: () => client.close(),
  };
}

/** A store that records every message handed to the server, optionally gated to simulate slowness. */
export class RecordingStore {
  public readonly stored: Buffer[] = [];
  public readonly received: Buffer[] = [];
  public pending = 0;
  public maxPending = 0;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  public readonly onMessage = async (message: Buffer): Promise<void> => {
    this.received.push(message);
    this.pending++;
    this.maxPending = Math.max(this.maxPending, this.pending);
    this.notify();
    try {
      if (this.gate) await this.gate;
      this.stored.push(message);
    } finally {
      this.pending--;
    }
  };

  public close(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  public open(): void {
    this.openGate?.();
    this.gate = null;
    this.openGate = null;
  }

  public whenReceived(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private notify(): void {
    this.waiters = this.waiters.filter((w) => {
      if (this.received.length >= w.count) w.resolve();
      return this.received.length < w.count;
    });
  }
}

function expectReason(actual: string, expected: string | RegExp): void {
  if (typeof expected === 'string') expect(actual).toBe(expected);
  else expect(actual).toMatch(expected);
}

function expectConsistentReport(report: IndexedReport, sent: number): void {
  const all = [...report.acked, ...report.unacked].sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: sent }, (_, i) => i));
}

/** Wrap messages in a lazy iterable that counts how many the client pulled. */
function counted(messages: Buffer[]): { iterable: Iterable<Buffer>; pulled(): number } {
  let pulled = 0;
  return {
    iterable: (function* () {
      for (const message of messages) {
        pulled++;
        yield message;
      }
    })(),
    pulled: () => pulled,
  };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Register the shared conformance tests (jest `describe`/`it`) for one binding.
 */
export function describeBindingConformance<Field extends string>(factory: BindingFactory<Field>): void {
  describe(`${factory.name} binding conformance`, () => {
    let server: RunningServer<Field> | null = null;
    let store: RecordingStore;
    const clients: IndexedClient[] = [];

    async function startServer(idleTimeoutMs = SUITE_RELAXED_IDLE_TIMEOUT_MS): Promise<RunningServer<Field>> {
      store = new RecordingStore();
      server = await factory.start({ onMessage: store.onMessage, idleTimeoutMs });
      return server;
    }

    /** For the tests about idle detection: replace this test's server with one using the short idle timeout. */
    async function restartWithShortIdleTimeout(): Promise<void> {
      await server?.close();
      await startServer(SUITE_IDLE_TIMEOUT_MS);
    }

    async function connect(): Promise<IndexedClient> {
      const client = indexedClient(await server!.connectClient(), factory.field);
      clients.push(client);
      return client;
    }

    beforeEach(async () => {
      await startServer();
    });

    afterEach(async () => {
      store.open();
      await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
      await server?.close();
      server = null;
    });

    it('round trip: one message is stored intact and acknowledged', async () => {
      const client = await connect();
      const message = makeMessage(0, 1234);

      const report = await client.deliver([message]);

      expect(report.error).toBeUndefined();
      expect(report.acked).toEqual([0]);
      expect(report.unacked).toEqual([]);
      expect(store.stored).toHaveLength(1);
      expect(store.stored[0].equals(message)).toBe(true);
    });

    it('an empty input completes with nothing acked', async () => {
      const client = await connect();
      const report = await client.deliver([]);
      expect(report).toMatchObject({ acked: [], unacked: [] });
      expect(store.received).toHaveLength(0);
    });

    it('1,000 messages arrive in order, each acknowledged exactly once', async () => {
      const client = await connect();
      const count = 1000;
      async function* messages() {
        for (let i = 0; i < count; i++) yield makeMessage(i, 16 + (i % 200));
      }
      const acks: number[] = [];

      const report = await client.deliver(messages(), { onAck: (i) => acks.push(i) });

      expect(report.error).toBeUndefined();
      expect(report.unacked).toEqual([]);
      expect([...report.acked].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(new Set(acks).size).toBe(count);
      expect(store.stored.map((m) => m.readUInt32BE(0))).toEqual(Array.from({ length: count }, (_, i) => i));
      store.stored.forEach((m, i) => expect(m.equals(makeMessage(i, 16 + (i % 200)))).toBe(true));
    });

    it('a delivery lasting longer than the idle timeout is not cut off while data flows', async () => {
      await restartWithShortIdleTimeout();
      const client = await connect();
      const started = Date.now();
      async function* messages() {
        for (let i = 0; Date.now() - started < SUITE_IDLE_TIMEOUT_MS * 2.5; i++) {
          await tick(5);
          yield makeMessage(i, 512);
        }
      }
      const report = await client.deliver(messages());

      expect(report.error).toBeUndefined();
      expect(report.unacked).toEqual([]);
      expect(store.stored.length).toBe(report.acked.length);
    });

    it('a store slower than the idle timeout does not time out the connection (the server is busy, not the peer)', async () => {
      await restartWithShortIdleTimeout();
      const client = await connect();
      store.close();
      const delivery = client.deliver([makeMessage(0, 100), makeMessage(1, 100)]);
      await store.whenReceived(1);
      await tick(SUITE_IDLE_TIMEOUT_MS * 1.5);
      store.open();
      const report = await delivery;

      expect(report.error).toBeUndefined();
      expect(report.acked).toEqual([0, 1]);
    });

    it('messages of exactly the maximum size are delivered intact', async () => {
      const messages = [0, 1, 2].map((i) => makeMessage(i, factory.maxMessageSize));
      const client = await connect();

      const report = await client.deliver(messages);

      expect(report.error).toBeUndefined();
      expect(report.acked).toHaveLength(3);
      expect(store.stored.map(digest)).toEqual(messages.map(digest));
    });

    it('a message one octet over the maximum is refused and reported unacked, never stored', async () => {
      const message = makeMessage(0, factory.maxMessageSize + 1);
      const client = await connect();
      const report = await client.deliver([message]);

      expect(report.acked).toEqual([]);
      expect(report.unacked).toEqual([0]);
      expect(report.error).toBeDefined();
      expect(store.received).toHaveLength(0);
    });

    it('peer disconnect mid-message: nothing acked that was not stored, nothing lost', async () => {
      const messages = [0, 1, 2, 3].map((i) => makeMessage(i, factory.maxMessageSize));
      const client = await connect();
      store.close();
      const acked: number[] = [];
      const ackedBeforeStored: number[] = [];
      const input = counted(messages);
      const delivery = client.deliver(input.iterable, {
        onAck: (i) => {
          acked.push(i);
          // An ack may only arrive for a message the store has completed.
          if (!store.stored.some((m) => m.equals(messages[i]))) ackedBeforeStored.push(i);
        },
      });
      await store.whenReceived(1);
      // Message 0 is being stored; later ones are on the wire. Pull the plug now.
      client.destroy();
      const report = await delivery;
      store.open();

      expect(report.error).toBeDefined();
      expect(input.pulled()).toBeGreaterThanOrEqual(1);
      expectConsistentReport(report, input.pulled());
      expect(report.acked).toEqual(acked);
      expect(ackedBeforeStored).toEqual([]);
      // Every message is either acked (hence stored) or handed back as unacked: nothing lost.
      for (const i of report.acked) expect(store.stored.some((m) => m.equals(messages[i]))).toBe(true);
      // Whatever reached the store is intact (no partial message).
      const sentDigests = new Set(messages.map(digest));
      for (const m of store.received) expect(sentDigests.has(digest(m))).toBe(true);

      // The server still serves new connections.
      const other = await connect();
      const again = await other.deliver([makeMessage(9, 100)]);
      expect(again.acked).toEqual([0]);
    });

    it('aborting a delivery reports the remaining messages as unacked', async () => {
      const client = await connect();
      store.close();
      const controller = new AbortController();
      const input = counted([0, 1, 2].map((i) => makeMessage(i, 64)));
      const delivery = client.deliver(input.iterable, { signal: controller.signal });
      await store.whenReceived(1);
      controller.abort();
      const report = await delivery;
      store.open();

      expect(report.error).toBeDefined();
      expectConsistentReport(report, input.pulled());
      expect(report.acked).toEqual([]);
    });

    it('a slow receiver slows the sender: at most `window` messages in flight, bounded buffers', async () => {
      const client = await connect();
      const size = 256 * 1024;
      const count = factory.window * 4;
      let pulled = 0;
      let ackCount = 0;
      let maxAhead = 0;
      let maxBuffered = 0;
      const sample = () => {
        maxAhead = Math.max(maxAhead, pulled - ackCount);
        if (server!.bufferedBytes) maxBuffered = Math.max(maxBuffered, server!.bufferedBytes());
      };
      async function* messages() {
        for (let i = 0; i < count; i++) {
          pulled++;
          sample();
          yield makeMessage(i, size);
        }
      }
      store.close();
      const delivery = client.deliver(messages(), {
        onAck: () => {
          ackCount++;
          sample();
        },
      });
      await store.whenReceived(1);
      // Give the sender ample opportunity to (wrongly) run ahead while the receiver is stuck.
      for (let i = 0; i < 10; i++) {
        await tick(10);
        sample();
      }
      expect(ackCount).toBe(0); // nothing acked while the store has not completed
      expect(pulled).toBeLessThanOrEqual(factory.window + 1);

      // Release slowly: one message at a time.
      store.open();
      const report = await delivery;

      expect(report.error).toBeUndefined();
      expect(report.acked).toHaveLength(count);
      expect(maxAhead).toBeLessThanOrEqual(factory.window + 1);
      expect(store.maxPending).toBeLessThanOrEqual(factory.window);
      if (server!.bufferedBytes) {
        expect(maxBuffered).toBeLessThanOrEqual((factory.window + 1) * (size + factory.frameOverhead));
      }
    });

    it('garbage from several concurrent clients ends their connections while a good client is served', async () => {
      const good = await connect();
      const goodDelivery = good.deliver(
        (function* () {
          for (let i = 0; i < 200; i++) yield makeMessage(i, 1024);
        })(),
      );
      const garbage = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((seed) => server!.sendRaw(seededBytes(seed * 7919, 4096))),
      );
      const report = await goodDelivery;

      for (const outcome of garbage) expectReason(outcome.reason, factory.garbageReason);
      expect(report.error).toBeUndefined();
      expect(report.acked).toHaveLength(200);
      expect(store.stored).toHaveLength(200);
    });

    if (factory.malformedInputs.length > 0) {
      it.each(factory.malformedInputs.map((input) => [input.name, input] as const))(
        'malformed input (%s) ends that connection with its reason; others are served',
        async (_name, input) => {
          const outcome = await server!.sendRaw(input.bytes);
          expectReason(outcome.reason, input.expectedReason);
          expect(store.stored).toHaveLength(0);

          const client = await connect();
          const report = await client.deliver([makeMessage(0, 10)]);
          expect(report.acked).toEqual([0]);
        },
      );
    }

    it('a peer that stalls mid-frame is disconnected by the idle timeout', async () => {
      await restartWithShortIdleTimeout();
      const started = Date.now();
      const outcome = await server!.sendRaw(factory.stalledInput);
      expectReason(outcome.reason, factory.stallReason);
      expect(Date.now() - started).toBeGreaterThanOrEqual(SUITE_IDLE_TIMEOUT_MS - 50);
      expect(store.received).toHaveLength(0);
    });
  });
}
