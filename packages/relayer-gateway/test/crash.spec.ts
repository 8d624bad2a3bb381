/**
 * Crash safety with the real executables: kill -9 the user gateway, the relaying gateway or the relay
 * at a random point, restart, carry on; in the end every parcel (both directions) reaches its
 * recipient exactly once and none is lost.
 *
 * The random point is a random delay (up to the duration of the previous such run) into one of:
 * - a relay run at either gateway (every kind: the relay itself, or the gateway it talks to);
 * - the relaying gateway's deliveries to the public endpoint (PogRPC), right after a relay run left
 *   it cargo;
 * - the user gateway's deliveries to the app (PoWebSocket collection), right after a relay run left
 *   it cargo.
 *
 * CRASH_TRIALS (default 3) trials per process kind; CRASH_SEED makes the random points reproducible.
 * With FAULTS_REPORT=<file>, the figures are appended to that file as one JSON line (scripts/test-faults.sh).
 */
import { appendFileSync } from 'node:fs';

import { buildExecutables, countOf, sleep, World } from './world';

const TRIALS = Number(process.env.CRASH_TRIALS ?? 3);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
let seed = SEED;
function random(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

jest.setTimeout(60_000 + TRIALS * 3 * 10_000);

const KINDS = ['user-gateway', 'relayer-gateway', 'relay'] as const;
type Kind = (typeof KINDS)[number];

let world: World;
let alice: Awaited<ReturnType<World['openApp']>>;

beforeAll(async () => {
  buildExecutables();
  world = new World();
  await world.start();
  alice = await world.openApp('alice');
}, 120_000);

afterAll(async () => {
  await world?.close();
});

/** Expected texts missing, and extra copies received. */
function tally(expected: readonly string[], received: readonly string[]): { lost: number; duplicated: number } {
  const got = countOf(received);
  let lost = 0;
  let duplicated = 0;
  for (const [text] of countOf(expected)) if (!got.has(text)) lost++;
  for (const [, count] of got) if (count > 1) duplicated += count - 1;
  return { lost, duplicated };
}

test(`kill -9 during relays and deliveries (${TRIALS} trials per process kind): every parcel arrives exactly once`, async () => {
  const sent: string[] = [];
  const replies: string[] = [];
  const replyIds: string[] = [];
  const trials = KINDS.flatMap((kind) => Array.from({ length: TRIALS }, () => kind));
  const events: string[] = [];
  /** Per kind: trials, and how many kills landed while the targeted operation was still running. */
  const figures = Object.fromEntries(KINDS.map((k) => [k, { trials: 0, midOperation: 0 }])) as Record<
    Kind,
    { trials: number; midOperation: number }
  >;

  /** How long an uninterrupted relay run took last, per leg (ms). */
  const runTime = { user: 350, relayer: 350 };
  const timedRun = async (at: 'user' | 'relayer') => {
    const started = Date.now();
    const result = await world.courier.run(at);
    runTime[at] = Math.max(50, Date.now() - started);
    return result;
  };

  for (const [index, kind] of trials.entries()) {
    for (let j = 0; j < 2; j++) {
      const text = `parcel ${index}.${j}`;
      await alice.send(text);
      sent.push(text);
    }
    if (world.pdas.has(alice.app.id)) {
      const text = `reply ${index}`;
      replyIds.push(await world.reply(alice.app.id, text));
      replies.push(text);
    }
    figures[kind].trials++;
    const leg = random() < 0.5 ? 'user' : 'relayer';
    const phase = kind === 'relay' || random() < 0.5 ? 'relay' : 'delivery';
    // A point within the time such a run took last time (so that most kills land mid-run).
    const delay = Math.floor(random() * (phase === 'relay' ? runTime[leg] : 200));
    if (kind === 'relay') {
      const result = await world.courier.run(leg, { killAfterMs: delay });
      if (result.killed) figures[kind].midOperation++;
      events.push(`relay@${leg} killed after ${delay} ms: ${result.killed ? 'killed' : `exited ${result.status}`}`);
    } else {
      const daemon = kind === 'user-gateway' ? world.userGateway : world.relayer;
      if (phase === 'relay') {
        const run = world.courier.run(leg);
        await sleep(delay);
        await daemon.stop('SIGKILL');
        const result = await run;
        // The relay failing means the gateway died under it.
        if (result.status === 1) figures[kind].midOperation++;
        events.push(`${kind} killed ${delay} ms into relay@${leg} (relay exited ${result.status})`);
      } else if (kind === 'relayer-gateway') {
        // It starts delivering to the public endpoint as soon as it has the cargo.
        await world.courier.run('relayer');
        const before = world.adapterInbox.messages.length;
        await sleep(delay);
        await daemon.stop('SIGKILL');
        events.push(`relayer-gateway killed ${delay} ms into its deliveries (${world.adapterInbox.messages.length - before} arrived)`);
        if (world.adapterInbox.messages.length - before < 2) figures[kind].midOperation++;
      } else {
        // The app collects while the gateway dies.
        await world.courier.run('user');
        const collection = world.collect(alice.app, alice.inbox);
        await sleep(delay);
        await daemon.stop('SIGKILL');
        const completed = await collection;
        if (!completed) figures[kind].midOperation++;
        events.push(`user-gateway killed ${delay} ms into the app's collection (${completed ? 'completed' : 'interrupted'})`);
      }
      await daemon.start();
    }
    // The courier carries on with the other leg, and the app collects what is there.
    await timedRun(leg === 'user' ? 'relayer' : 'user');
    await world.collect(alice.app, alice.inbox);
  }

  // Let the adapter's outbox reach the (restarted) relaying gateway, then make clean trips until done.
  await world.waitUntilQueuedAtRelayer(replyIds, 20_000);
  const done = () =>
    world.adapterInbox.messages.length >= sent.length && alice.inbox.messages.length >= replies.length;
  for (let round = 0; round < 8 && !done(); round++) {
    await world.courier.run('user');
    await world.courier.run('relayer');
    await world.courier.run('user');
    await world.collect(alice.app, alice.inbox);
    for (let wait = 0; wait < 20 && world.adapterInbox.messages.length < sent.length; wait++) await sleep(100);
  }

  const toAdapter = tally(sent, world.adapterInbox.contents());
  const toApp = tally(replies, alice.inbox.contents());
  if (process.env.FAULTS_REPORT) {
    appendFileSync(
      process.env.FAULTS_REPORT,
      `${JSON.stringify({
        suite: 'crash',
        seed: SEED,
        trialsPerKind: TRIALS,
        kinds: figures,
        parcelsToAdapter: { sent: sent.length, ...toAdapter },
        parcelsToApp: { sent: replies.length, ...toApp },
      })}\n`,
    );
  }
  const context = `seed ${SEED}; ${events.join('; ')}`;
  expect({ context, toAdapter, toApp }).toEqual({ context, toAdapter: { lost: 0, duplicated: 0 }, toApp: { lost: 0, duplicated: 0 } });
  expect({ context, adapter: countOf(world.adapterInbox.contents()) }).toEqual({ context, adapter: countOf(sent) });
  expect({ context, app: countOf(alice.inbox.contents()) }).toEqual({ context, app: countOf(replies) });
});
