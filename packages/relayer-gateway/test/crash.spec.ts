/**
 * Crash safety with the real executables: kill -9 the user gateway, the relaying gateway or the relay
 * at a random point during a relay run, restart, carry on; in the end every parcel (both directions)
 * reaches its recipient's app exactly once and none is lost.
 *
 * CRASH_TRIALS (default 3) trials per process kind; CRASH_SEED makes the random points reproducible.
 */
import { buildExecutables, countOf, sleep, World } from './world';

const TRIALS = Number(process.env.CRASH_TRIALS ?? 3);
let seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
function random(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

jest.setTimeout(60_000 + TRIALS * 3 * 10_000);

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

test(`kill -9 during relays (${TRIALS} trials per process kind): every parcel arrives exactly once`, async () => {
  const initialSeed = seed;
  const sent: string[] = [];
  const replies: string[] = [];
  const replyIds: string[] = [];
  const kinds = ['user-gateway', 'relayer-gateway', 'relay'] as const;
  const trials = kinds.flatMap((kind) => Array.from({ length: TRIALS }, () => kind));
  const events: string[] = [];

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
    const leg = random() < 0.5 ? 'user' : 'relayer';
    const delay = Math.floor(random() * 350);
    if (kind === 'relay') {
      const result = await world.courier.run(leg, { killAfterMs: delay });
      events.push(`relay@${leg} killed after ${delay} ms: ${result.killed ? 'killed' : `exited ${result.status}`}`);
    } else {
      const daemon = kind === 'user-gateway' ? world.userGateway : world.relayer;
      const run = world.courier.run(leg);
      await sleep(delay);
      await daemon.stop('SIGKILL');
      const result = await run;
      events.push(`${kind} killed ${delay} ms into relay@${leg} (relay exited ${result.status})`);
      await daemon.start();
    }
    // The courier carries on with the other leg, and the app collects what is there.
    await world.courier.run(leg === 'user' ? 'relayer' : 'user');
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

  const context = `seed ${initialSeed}; ${events.join('; ')}`;
  expect({ context, adapter: countOf(world.adapterInbox.contents()) }).toEqual({ context, adapter: countOf(sent) });
  expect({ context, app: countOf(alice.inbox.contents()) }).toEqual({ context, app: countOf(replies) });
});
