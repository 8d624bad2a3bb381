/**
 * The adapter down while cargo keeps coming: the relaying gateway backs off the route as a whole (1 s, 2 s, 4 s…)
 * instead of failing every new parcel at once, and delivers everything, once, when the adapter is back.
 */
import { buildExecutables, countOf, waitFor, World } from './world';

jest.setTimeout(90_000);

let world: World;

beforeAll(async () => {
  buildExecutables();
  world = new World();
  await world.start();
}, 120_000);

afterAll(async () => {
  await world?.close();
});

test('an unreachable public endpoint is retried with a growing delay; nothing is lost or doubled when it is back', async () => {
  const alice = await world.openApp('alice');
  await world.adapter.close();

  const texts = ['while down 1', 'while down 2', 'while down 3'];
  for (const text of texts) {
    await alice.send(text);
    expect((await world.courier.run('user')).status).toBe(0);
    expect((await world.courier.run('relayer')).status).toBe(0);
  }
  const unreachable = () =>
    world.relayer.logs().filter((l) => l.msg === 'Public endpoint unreachable: its parcels wait for the next try');
  await waitFor('three failed tries of the route', () => unreachable().length >= 3, 30_000);

  // Each try waits twice as long as the one before (the log line's time to its retryAt).
  const waits = unreachable()
    .slice(0, 3)
    .map((line) => Date.parse(String(line.retryAt)) - Date.parse(String(line.time)));
  expect(waits[0]).toBeGreaterThanOrEqual(900);
  expect(waits[0]).toBeLessThan(1_100);
  expect(waits[1] / waits[0]).toBeCloseTo(2, 0);
  expect(waits[2] / waits[1]).toBeCloseTo(2, 0);

  await world.startAdapter();
  await waitFor(
    'every message at the adapter',
    () => texts.every((text) => world.adapterInbox.contents().includes(text)),
    45_000,
  );
  const counts = countOf(world.adapterInbox.contents().filter((text) => text.startsWith('while down')));
  expect([...counts.values()]).toEqual([1, 1, 1]);
});
