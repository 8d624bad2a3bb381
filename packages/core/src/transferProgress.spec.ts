import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type Server, type Socket } from 'node:net';

import { ProgressWatchdog, socketProgress } from './transferProgress';

/**
 * A connected pair over a Unix socket (small kernel buffers, like a slow link's, unlike loopback TCP's megabytes):
 * `local` is the side under test, `remote` the peer (paused: reads nothing until told).
 */
async function socketPair(): Promise<{ local: Socket; remote: Socket; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'progress-'));
  const path = join(dir, 'pair.sock');
  const server: Server = createServer({ pauseOnConnect: true });
  server.listen(path);
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const local = connect(path);
  await once(local, 'connect');
  const [remote] = await accepted;
  return {
    local,
    remote,
    close() {
      local.destroy();
      remote.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const IDLE_MS = 300;
const BIG = Buffer.alloc(32 * 1024 * 1024);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Let the paused peer read for `ms`, slowly (at most 16 KiB every 5 ms, like a slow link), then stop again. */
async function readFor(socket: Socket, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    socket.read(Math.min(16 * 1024, socket.readableLength) || undefined);
    await sleep(5);
  }
}

describe('socketProgress and ProgressWatchdog', () => {
  let pair: Awaited<ReturnType<typeof socketPair>>;
  beforeEach(async () => {
    pair = await socketPair();
  });
  afterEach(() => pair.close());

  it('a large write that the peer drains slowly is progress, long before the write completes', async () => {
    pair.local.write(BIG);
    const before = socketProgress(pair.local);
    // The peer reads 16 KiB at a time until the writer's count moves: bounded by octets (at most half of the 32 MiB
    // write), not by time, so a loaded machine only makes it slower. How the count moves is what is under test.
    let drained = 0;
    let after = before;
    while (after === before && drained < BIG.length / 2) {
      const chunk = pair.remote.read(Math.min(16 * 1024, pair.remote.readableLength) || undefined) as Buffer | null;
      drained += chunk?.length ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 5));
      after = socketProgress(pair.local);
    }
    expect(drained).toBeGreaterThan(0);
    expect(pair.local.writableLength).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(before);
  });

  it('a transfer slower than the idle timeout, but never silent for it, is not idle', async () => {
    let idle = false;
    const watchdog = new ProgressWatchdog({
      idleMs: IDLE_MS,
      progress: () => socketProgress(pair.local),
      onIdle: () => (idle = true),
    });
    pair.local.write(BIG);
    // The peer reads slowly for 4 idle periods: 32 MiB at that pace would take seconds, many idle periods.
    await readFor(pair.remote, IDLE_MS * 4);
    watchdog.stop();
    expect(pair.local.writableLength).toBeGreaterThan(0);
    expect(idle).toBe(false);
  });

  it('a peer that stops reading mid-transfer is idle after the idle timeout', async () => {
    const started = Date.now();
    const idleFor = new Promise<number>((resolve) => {
      new ProgressWatchdog({ idleMs: IDLE_MS, progress: () => socketProgress(pair.local), onIdle: resolve });
    });
    pair.local.write(BIG);
    expect(await idleFor).toBeGreaterThanOrEqual(IDLE_MS);
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS);
  });

  it('our own small writes (pings) into a peer that reads nothing are not progress', async () => {
    let pinging = true;
    const ping = async () => {
      while (pinging) {
        pair.local.write(Buffer.from([0x89, 0x00]));
        await sleep(10);
      }
    };
    const pings = ping();
    const idleFor = await new Promise<number>((resolve) => {
      new ProgressWatchdog({ idleMs: IDLE_MS, progress: () => socketProgress(pair.local), onIdle: resolve });
    });
    pinging = false;
    await pings;
    expect(idleFor).toBeGreaterThanOrEqual(IDLE_MS);
  });

  it('paused while the local side is busy: a long local task is not the peer being idle', async () => {
    let idle = false;
    const watchdog = new ProgressWatchdog({ idleMs: IDLE_MS, progress: () => 0, onIdle: () => (idle = true) });
    watchdog.pause();
    await sleep(IDLE_MS * 2);
    expect(idle).toBe(false);
    watchdog.stop();
  });
});
