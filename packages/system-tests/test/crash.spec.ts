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
 * A second test kills the user gateway or the relaying gateway at a random point of the user gateway's
 * first registration, with parcels queued before it: they must all be sent after it.
 *
 * CRASH_TRIALS (default 3) trials per process kind; CRASH_SEED makes the random points reproducible.
 * With FAULTS_REPORT=<file>, the figures are appended to that file as one JSON line (scripts/test-faults.sh).
 */
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildExecutables, countOf, seededRandom, sleep, waitFor, World } from './world';

const TRIALS = Number(process.env.CRASH_TRIALS ?? 3);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
const random = seededRandom(SEED);

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
        events.push(
          `relayer-gateway killed ${delay} ms into its deliveries (${world.adapterInbox.messages.length - before} arrived)`,
        );
        if (world.adapterInbox.messages.length - before < 2) figures[kind].midOperation++;
      } else {
        // The app collects while the gateway dies.
        await world.courier.run('user');
        const collection = world.collect(alice.app, alice.inbox);
        await sleep(delay);
        await daemon.stop('SIGKILL');
        const completed = await collection;
        if (!completed) figures[kind].midOperation++;
        events.push(
          `user-gateway killed ${delay} ms into the app's collection (${completed ? 'completed' : 'interrupted'})`,
        );
      }
      await daemon.start();
    }
    // The courier carries on with the other leg, and the app collects what is there.
    await timedRun(leg === 'user' ? 'relayer' : 'user');
    await world.collect(alice.app, alice.inbox);
  }

  // Let the adapter's outbox reach the (restarted) relaying gateway, then make clean trips until done.
  await world.waitUntilQueuedAtRelayer(replyIds, 20_000);
  const done = () => world.adapterInbox.messages.length >= sent.length && alice.inbox.messages.length >= replies.length;
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
  expect({ context, toAdapter, toApp }).toEqual({
    context,
    toAdapter: { lost: 0, duplicated: 0 },
    toApp: { lost: 0, duplicated: 0 },
  });
  expect({ context, adapter: countOf(world.adapterInbox.contents()) }).toEqual({ context, adapter: countOf(sent) });
  expect({ context, app: countOf(alice.inbox.contents()) }).toEqual({ context, app: countOf(replies) });
});

test(
  `kill -9 at random points of the first registration (${TRIALS} trials per gateway): what was queued before it is sent once`,
  async () => {
    const kinds = ['user-gateway', 'relayer-gateway'] as const;
    const trials = kinds.flatMap((kind) => Array.from({ length: TRIALS }, () => kind));
    const events: string[] = [];
    /** Where the user gateway's registration stood when the kill landed (as far as its log says). */
    const figures = Object.fromEntries(
      kinds.map((k) => [k, { trials: 0, pinnedFirst: 0, beforePin: 0, pinnedNotRegistered: 0, registered: 0 }]),
    ) as Record<
      (typeof kinds)[number],
      { trials: number; pinnedFirst: number; beforePin: number; pinnedNotRegistered: number; registered: number }
    >;
    let sent = 0;
    let lost = 0;
    let duplicated = 0;
    /** From the relaying gateway's spawn to the user gateway's "Registered" (ms), as last measured. */
    let registrationTime = 1_500;
    const hidden = mkdtempSync(join(tmpdir(), 'hidden-registration-'));

    try {
      for (const [index, kind] of trials.entries()) {
        const w = new World();
        try {
          figures[kind].trials++;
          await w.startAdapter();
          await w.userGateway.start();
          const app = await w.openApp('app');
          const texts = [`queued before registration ${index}.0`, `queued before registration ${index}.1`];
          for (const text of texts) await app.send(text);
          sent += texts.length;

          // Half the trials: the relaying gateway is first seen without its registration folder, so the user
          // gateway pins its certificate before it can register (the failure found in RELIABILITY.md).
          const pinnedFirst = random() < 0.5;
          if (pinnedFirst) {
            figures[kind].pinnedFirst++;
            await (await w.startRelayerUnseen(hidden)).stop();
          }

          const logsBefore = w.userGateway.logs().length;
          const delay = Math.floor(random() * registrationTime * 1.2);
          const spawnedAt = Date.now();
          const relayerStarted = w.relayer.start().catch(() => undefined);
          await sleep(delay);
          const logs = w.userGateway.logs().slice(logsBefore);
          const registeredLog = logs.find((l) => l.msg === 'Registered with the relaying gateway');
          const pinned = pinnedFirst || logs.some((l) => l.msg.startsWith('Relaying gateway certificate pinned'));
          const state = registeredLog ? 'registered' : pinned ? 'pinnedNotRegistered' : 'beforePin';
          figures[kind][state]++;
          if (registeredLog) registrationTime = Math.max(200, Date.parse(registeredLog.time as string) - spawnedAt);
          await (kind === 'user-gateway' ? w.userGateway : w.relayer).stop('SIGKILL');
          await relayerStarted;
          events.push(
            `${index}: ${kind} killed ${delay} ms after the relaying gateway's spawn (${pinnedFirst ? 'pinned first, ' : ''}${state})`,
          );

          if (!w.relayer.running) await w.relayer.start();
          if (!w.userGateway.running) await w.userGateway.start();
          await waitFor(
            'the registration',
            () => existsSync(w.path('user-gateway', 'identity-certificate.pem')),
            30_000,
          );
          for (let round = 0; round < 5 && w.adapterInbox.messages.length < texts.length; round++) {
            await w.courier.run('user');
            await w.courier.run('relayer');
            for (let wait = 0; wait < 50 && w.adapterInbox.messages.length < texts.length; wait++) await sleep(100);
          }
          const outcome = tally(texts, w.adapterInbox.contents());
          lost += outcome.lost;
          duplicated += outcome.duplicated;
          if (outcome.lost || outcome.duplicated)
            events.push(`${index}: ${outcome.lost} lost, ${outcome.duplicated} duplicated`);
        } finally {
          await w.close();
        }
      }
    } finally {
      rmSync(hidden, { recursive: true, force: true });
    }

    if (process.env.FAULTS_REPORT) {
      appendFileSync(
        process.env.FAULTS_REPORT,
        `${JSON.stringify({ suite: 'registration-crash', seed: SEED, trialsPerKind: TRIALS, kinds: figures, parcels: { sent, lost, duplicated } })}\n`,
      );
    }
    const context = `seed ${SEED}; ${events.join('; ')}`;
    expect({ context, lost, duplicated }).toEqual({ context, lost: 0, duplicated: 0 });
  },
  60_000 + TRIALS * 2 * 30_000,
);
