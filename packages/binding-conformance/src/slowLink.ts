import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { type Endpoint, startThrottlingProxy, type ThrottlingProxy } from '@twitter-relaynet/test-support';

import { digest, type IndexedClient, indexedClient, makeMessage, RecordingStore } from './suite';
import type { BindingFactory, RunningServer } from './types';

/**
 * Idle timeout of the slow-link tests: far shorter than their transfers (30 s and more), so that only progress,
 * never whole messages, can keep them alive; long enough that a loaded machine does not look like a stall.
 */
export const SLOW_LINK_IDLE_TIMEOUT_MS = 2_000;
/** The message of the slow-link tests: 8 MiB (or the binding's maximum, if smaller). */
const MESSAGE_SIZE = 8 * 1024 * 1024;
const TEST_TIMEOUT_MS = 300_000;

/** Jest's own output is noisy; when SLOW_LINK_REPORT names a file, the transfer times go there (JSON lines). */
async function report(figure: Record<string, unknown>): Promise<void> {
  const file = process.env.SLOW_LINK_REPORT;
  if (!file) return;
  await appendFile(file, `${JSON.stringify(figure)}\n`);
}

/**
 * Register tests of one binding through a throttling proxy: a large message over a slow link is delivered
 * exactly once although it takes many idle periods, and a link that stalls is detected, dropped and the message
 * delivered exactly once on the retry.
 */
export function describeSlowLink<Field extends string>(factory: BindingFactory<Field>): void {
  const message = makeMessage(0, Math.min(MESSAGE_SIZE, factory.maxMessageSize));

  /** A server behind its own throttling proxy, for one test; everything is closed when `fn` settles. */
  async function overLink<T>(
    link: { bytesPerSecond: number; latencyMs: number },
    fn: (harness: {
      proxy: ThrottlingProxy;
      store: RecordingStore;
      connect: () => Promise<IndexedClient>;
    }) => Promise<T>,
  ): Promise<T> {
    const store = new RecordingStore();
    const clients: IndexedClient[] = [];
    const server: RunningServer<Field> = await factory.start({
      onMessage: store.onMessage,
      idleTimeoutMs: SLOW_LINK_IDLE_TIMEOUT_MS,
    });
    let dir: string | null = null;
    let proxy: ThrottlingProxy | null = null;
    try {
      if (!server.endpoint) throw new Error(`${factory.name}: the slow-link tests need RunningServer.endpoint`);
      let listen: Endpoint | undefined;
      if ('path' in server.endpoint) {
        dir = await mkdtemp(join(tmpdir(), 'slow-link-'));
        listen = { path: join(dir, 'proxy.sock') };
      }
      const running = await startThrottlingProxy({ target: server.endpoint, listen, ...link });
      proxy = running;
      const connect = async (): Promise<IndexedClient> => {
        const client = indexedClient(await server.connectClient(running.endpoint), factory.field);
        clients.push(client);
        return client;
      };
      return await fn({ proxy: running, store, connect });
    } finally {
      store.open();
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await proxy?.close();
      await server.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }

  // Concurrent: each test waits on its link, not on the CPU, so the file's other tests run meanwhile (these two
  // take about 45 s of link time per binding). Each test owns its server and proxy; no shared hooks.
  describe(`${factory.name} over a slow link`, () => {
    test.concurrent(
      'a message of 8 MiB at 256 KiB/s with a 200 ms round trip is delivered exactly once, though it takes many idle periods',
      () =>
        overLink({ bytesPerSecond: 256 * 1024, latencyMs: 100 }, async ({ proxy: link, store, connect }) => {
          const client = await connect();
          const started = performance.now();

          const outcome = await client.deliver([message]);

          const elapsedMs = Math.round(performance.now() - started);
          await report({ binding: factory.name, test: 'slow link', octets: message.length, elapsedMs });
          expect(outcome.error).toBeUndefined();
          expect(outcome.acked).toEqual([0]);
          expect(store.stored.map(digest)).toEqual([digest(message)]);
          expect(link.accepted).toBe(1); // one connection: never cut and retried
          // The link, not the machine, set the pace: 8 MiB at 256 KiB/s cannot take less than 32 s.
          expect(elapsedMs).toBeGreaterThan((message.length / (256 * 1024)) * 1000 * 0.95);
        }),
      TEST_TIMEOUT_MS,
    );

    test.concurrent(
      'a link that stalls longer than the idle timeout is dropped; the retry delivers the message exactly once',
      () =>
        overLink({ bytesPerSecond: 1024 * 1024, latencyMs: 0 }, async ({ proxy: link, store, connect }) => {
          const first = await connect();
          const delivery = first.deliver([message]);
          await link.whenForwarded('up', 1024 * 1024);
          link.stall();
          const stalledAt = performance.now();
          await link.whenOpenAtMost(0); // the server gave up on the silent connection
          const detectedAfterMs = Math.round(performance.now() - stalledAt);
          link.resume(); // the client learns of it once the link is back
          const interrupted = await delivery;

          expect(detectedAfterMs).toBeGreaterThanOrEqual(SLOW_LINK_IDLE_TIMEOUT_MS - 50);
          expect(interrupted.error).toBeDefined();
          expect(interrupted.acked).toEqual([]);
          expect(interrupted.unacked).toEqual([0]);
          expect(store.received).toHaveLength(0);

          const started = performance.now();
          const retried = await (await connect()).deliver([message]);
          await report({
            binding: factory.name,
            test: 'stalled link',
            detectedAfterMs,
            retryMs: Math.round(performance.now() - started),
          });
          expect(retried.error).toBeUndefined();
          expect(retried.acked).toEqual([0]);
          expect(store.received).toHaveLength(1);
          expect(store.stored.map(digest)).toEqual([digest(message)]);
          expect(link.accepted).toBe(2);
        }),
      TEST_TIMEOUT_MS,
    );
  });
}
