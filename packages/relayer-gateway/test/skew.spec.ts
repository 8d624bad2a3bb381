/**
 * Clock skew of ±3 h between the user's computer and the Internet side, with the real executables:
 * the user gateway and the relay runs at it get a preload that moves their wall clock (skewed-clock.cjs),
 * the app's endpoint a skewed Clock (see world.ts).
 *
 * Everything emitted is backdated (cargo 3 h, CCAs 90 min), so cargo and CCAs cross either way; but a
 * parcel carries its sender's own time, and a gateway takes peers' dates up to 2 h in the future only.
 * So 3 h is beyond the tolerance for one direction in each case: the user's parcels when the user's clock
 * is ahead, the Internet's parcels when it is behind. Such cargo is refused as a whole and not
 * acknowledged, with a clear line in the gateway's log and a failed relay run for the courier; the relay
 * keeps it on the flashdrive and nothing is lost: once the clocks are within the tolerance it flows,
 * each parcel exactly once.
 *
 * The user is told either way: the user gateway publishes clock-status.json beside its PoWebSocket socket
 * (what twitter-app prints, see packages/config clockStatus.ts). When the user's clock is ahead, the
 * refusal happens on the Internet side and reaches the user gateway as a notice in the cargo collected
 * on the same trip; a second notice says when cargo is taken again.
 */
import { join } from 'node:path';

import { describeClockStatus, readClockStatus } from '@twitter-relaynet/config';

import { buildExecutables, countOf, type LogLine, waitFor, World } from './world';

jest.setTimeout(60_000);

const HOUR = 3_600_000;

beforeAll(() => buildExecutables(), 120_000);

const refusals = (logs: readonly LogLine[]) => logs.filter((l) => l.msg.startsWith('Cargo refused: '));

/** What the user gateway published for the app, and what the app prints from it. */
const clockStatus = (world: World) => readClockStatus(join(world.path('user-gateway'), 'clock-status.json'));

/** Cargo files on the flashdrive (the relay names what it collects <uuid>.cargo). */
const cargoFiles = (world: World, folder: string) => world.courier.files(folder).filter((f) => f.endsWith('.cargo'));

test("user's clock 3 h ahead: the user's parcels are refused, kept, and flow once within the tolerance", async () => {
  const world = new World({ userClockSkewMs: 3 * HOUR });
  try {
    await world.start();
    const alice = await world.openApp('alice');
    await alice.send('tweet 1');
    await alice.send('tweet 2');

    // Cargo (backdated 3 h) and the CCA (90 min) are fine; the parcels inside are 3 h ahead.
    expect((await world.courier.run('user')).status).toBe(0);
    expect(cargoFiles(world, world.courier.toRelayer)).toHaveLength(1);
    const atRelayer = await world.courier.run('relayer');
    expect(atRelayer.status).toBe(1);
    // The courier is told why (the gateway's refusal report), and the cargo stays on the flashdrive.
    expect(atRelayer.stderr).toMatch(
      /\.cargo: not taken by the gateway for now, kept on the flashdrive: Clock skew: 3 parcel\(s\) in this cargo are dated 3\.0 h ahead of this gateway's clock/,
    );
    expect(cargoFiles(world, world.courier.toRelayer)).toHaveLength(1);
    const [refusal] = refusals(world.relayer.logs());
    expect(refusal.msg).toMatch(
      /^Cargo refused: 3 parcel\(s\) in this cargo are dated 3\.0 h ahead of this gateway's clock .* beyond the clock drift tolerance of 2\.0 h: the clock of the user's computer is probably ahead/,
    );
    expect(world.relayer.logs().filter((l) => l.msg === 'Parcel in cargo refused')).toEqual([]);

    // The same trip brought back the relaying gateway's notice: the user is told at the next stop.
    expect(clockStatus(world)).toEqual({});
    // Not acknowledged: the user gateway still has the parcels and sends them again on the next trip.
    expect((await world.courier.run('user')).status).toBe(0);
    const told = await waitFor('the clock status', () => clockStatus(world).internet);
    expect(told).toMatchObject({ status: 'refused', parcelCount: 3, toleranceSeconds: 7200 });
    expect(describeClockStatus(clockStatus(world))).toEqual([
      expect.stringMatching(/^This computer's clock is at least 3\.0 h ahead: .* the relaying gateway did not take 3 message\(s\) from this computer/),
    ]);
    expect(world.userGateway.logs().filter((l) => /^This computer's clock is at least 3\.0 h ahead/.test(l.msg))).toHaveLength(1);
    expect(cargoFiles(world, world.courier.toRelayer)).toHaveLength(2);
    expect((await world.courier.run('relayer')).status).toBe(1);
    expect(world.adapterInbox.messages).toEqual([]);

    // The Internet side's clock moves 1.5 h on (as if time passed): within the tolerance now. The next
    // trip's cargo and both kept ones go in, and each parcel reaches the adapter once.
    world.internetClockSkewMs = 1.5 * HOUR;
    await world.relayer.stop();
    await world.relayer.start();
    expect((await world.courier.run('user')).status).toBe(0);
    expect(cargoFiles(world, world.courier.toRelayer)).toHaveLength(3);
    const later = await world.courier.run('relayer');
    expect({ status: later.status, stderr: later.stderr }).toEqual({
      status: 0,
      stderr: expect.stringMatching(/^relay: delivered 3 cargo /),
    });
    expect(cargoFiles(world, world.courier.toRelayer)).toEqual([]);
    await waitForAdapter(world, 2);
    expect(countOf(world.adapterInbox.contents())).toEqual(countOf(['tweet 1', 'tweet 2']));
    await waitFor("the app's PDA at the adapter", () => world.pdas.has(alice.app.id));

    // That trip also collected the relaying gateway's second notice: at the user's, the warning goes.
    expect((await world.courier.run('user')).status).toBe(0);
    await waitFor('the resolved clock status', () => clockStatus(world).internet?.status === 'resolved');
    expect(describeClockStatus(clockStatus(world))).toEqual([]);
  } finally {
    await world.close();
  }
});

test("user's clock 3 h behind: the Internet's parcels are refused at the user's computer, kept, and flow once it is right", async () => {
  const world = new World({ userClockSkewMs: -3 * HOUR });
  try {
    await world.start();
    const alice = await world.openApp('alice');
    await alice.send('tweet 1');

    // Towards the Internet, dates are in the past: fine.
    expect((await world.courier.run('user')).status).toBe(0);
    expect((await world.courier.run('relayer')).status).toBe(0);
    await waitForAdapter(world, 1);
    expect(world.adapterInbox.contents()).toEqual(['tweet 1']);
    await waitFor("the app's PDA at the adapter", () => world.pdas.has(alice.app.id));

    // The adapter answers; its parcel is dated 3 h ahead of the user's clock.
    const replyId = await world.reply(alice.app.id, 'reply 1');
    await world.waitUntilQueuedAtRelayer([replyId]);
    expect((await world.courier.run('user')).status).toBe(0);
    expect((await world.courier.run('relayer')).status).toBe(0);
    expect(cargoFiles(world, world.courier.toUser)).toHaveLength(1);
    const atUser = await world.courier.run('user');
    expect(atUser.status).toBe(1);
    expect(atUser.stderr).toMatch(
      /\.cargo: not taken by the gateway for now, kept on the flashdrive: Clock skew: 1 parcel\(s\) in this cargo are dated 3\.0 h ahead of this computer's clock/,
    );
    expect(cargoFiles(world, world.courier.toUser)).toHaveLength(1);
    const [refusal] = refusals(world.userGateway.logs());
    expect(refusal.msg).toMatch(
      /^Cargo refused: 1 parcel\(s\) in this cargo are dated 3\.0 h ahead of this computer's clock .* beyond the clock drift tolerance of 2\.0 h: is this computer's clock right\?/,
    );
    expect(describeClockStatus(clockStatus(world))).toEqual([
      expect.stringMatching(/^This computer's clock is at least 3\.0 h behind: .* its gateway did not take 1 message\(s\) from the Internet/),
    ]);
    await world.collect(alice.app, alice.inbox);
    expect(alice.inbox.messages).toEqual([]);

    // The user sets the clock closer to right (1.5 h behind: within the tolerance) and restarts the
    // gateway: the kept cargo goes in, the reply reaches the app once.
    world.userClockSkewMs = -1.5 * HOUR;
    await world.userGateway.stop();
    await world.userGateway.start();
    const later = await world.courier.run('user');
    expect({ status: later.status, stderr: later.stderr }).toEqual({
      status: 0,
      stderr: expect.stringMatching(/^relay: delivered 1 cargo /),
    });
    expect(cargoFiles(world, world.courier.toUser)).toEqual([]);
    await world.collect(alice.app, alice.inbox);
    expect(alice.inbox.contents()).toEqual(['reply 1']);
    expect(clockStatus(world)).toEqual({}); // taken: the warning is gone
  } finally {
    await world.close();
  }
});

async function waitForAdapter(world: World, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (world.adapterInbox.messages.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
}
