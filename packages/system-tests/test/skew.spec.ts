/**
 * Clock skew between the user's computer and the Internet side, with the real executables: the user
 * gateway, the relay runs at it and bin/twitter-app get a preload that moves their wall clock
 * (skewed-clock.cjs), the World's apps a skewed Clock (see world.ts).
 *
 * Everything emitted is backdated (cargo 3 h, CCAs 90 min), and a cargo's or a CCA's own date is no reason
 * to refuse it; but a parcel carries its sender's own time, and a gateway takes peers' parcels dated up to
 * 2 h in the future only. So a 3 h skew is beyond the tolerance for one direction in each case: the user's
 * parcels when the user's clock is ahead, the Internet's parcels when it is behind. Those parcels are left
 * out of the cargo intake, unacknowledged, with a clear line in the gateway's log; the rest of the cargo is
 * taken (nothing valid waits behind them), and the sending gateway keeps them: once the clocks are within
 * the tolerance they flow, each exactly once.
 *
 * The user is told either way: the user gateway publishes clock-status.json beside its PoWebSocket socket
 * (what twitter-app prints, see packages/config clockStatus.ts). When the user's clock is ahead, the
 * refusal happens on the Internet side and reaches the user gateway as a notice in the cargo collected on
 * the same trip; a second notice (or, failing that, the relaying gateway's acknowledgements) says when its
 * parcels are taken again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describeClockStatus, readClockStatus } from '@twitter-relaynet/config';
import { CLOCK_SKEW_REFUSED_PARCEL_ID, openGatewaySqliteStores, peerQueue } from '@twitter-relaynet/gateway';
import { type ProcessResult, runProcess } from '@twitter-relaynet/test-support';
import { decodeTweet, TWEET_TYPE } from '@twitter-relaynet/twitter-service';

import { buildExecutables, countOf, type LogLine, REPO, skewedEnv, waitFor, World } from './world';

jest.setTimeout(90_000);

const HOUR = 3_600_000;

beforeAll(() => buildExecutables('packages/twitter-app'), 180_000);

const leftOut = (logs: readonly LogLine[]) => logs.filter((l) => l.msg.startsWith('Parcels not taken: '));

/** What the user gateway published for the app, and what the app prints from it. */
const clockStatus = (world: World) => readClockStatus(join(world.path('user-gateway'), 'clock-status.json'));

/** Cargo files on the flashdrive (the relay names what it collects <uuid>.cargo). */
const cargoFiles = (world: World, folder: string) => world.courier.files(folder).filter((f) => f.endsWith('.cargo'));

test("user's clock 3 h ahead: the user's parcels are left out, kept, and flow once within the tolerance", async () => {
  const world = new World({ userClockSkewMs: 3 * HOUR });
  try {
    await world.start();
    const alice = await world.openApp('alice');
    await alice.send('tweet 1');
    await alice.send('tweet 2');

    // Cargo (backdated 3 h) and the CCA (90 min) are fine; the parcels inside are 3 h ahead: left out, and
    // the cargo is taken (the user gateway still has them: no copy piles up on the flashdrive).
    expect((await world.courier.run('user')).status).toBe(0);
    const atRelayer = await world.courier.run('relayer');
    expect({ status: atRelayer.status, stderr: atRelayer.stderr }).toEqual({
      status: 0,
      stderr: expect.stringMatching(/^relay: delivered 1 cargo /),
    });
    expect(cargoFiles(world, world.courier.toRelayer)).toEqual([]);
    const [refusal] = leftOut(world.relayer.logs());
    expect(refusal.msg).toMatch(
      /^Parcels not taken: 3 parcel\(s\) in this cargo are dated 3\.0 h ahead of this gateway's clock .* beyond the clock drift tolerance of 2\.0 h: the clock of the user's computer is probably ahead/,
    );
    expect(world.relayer.logs().filter((l) => l.msg === 'Parcel in cargo refused')).toEqual([]);

    // The same trip brought back the relaying gateway's notice: the user is told at the next stop.
    expect(clockStatus(world)).toEqual({});
    // Not acknowledged: the user gateway still has the parcels and sends them again on the next trip.
    expect((await world.courier.run('user')).status).toBe(0);
    const told = await waitFor('the clock status', () => clockStatus(world).internet);
    expect(told).toMatchObject({ status: 'refused', parcelCount: 3, toleranceSeconds: 7200 });
    expect(describeClockStatus(clockStatus(world), new Date(Date.now() + 3 * HOUR))).toEqual([
      expect.stringMatching(
        /^This computer's clock is at least 3\.0 h ahead: .* the relaying gateway did not take 3 message\(s\) from this computer/,
      ),
    ]);
    expect(
      world.userGateway.logs().filter((l) => /^This computer's clock is at least 3\.0 h ahead/.test(l.msg)),
    ).toHaveLength(1);
    expect(cargoFiles(world, world.courier.toRelayer)).toHaveLength(1);
    expect((await world.courier.run('relayer')).status).toBe(0);
    expect(leftOut(world.relayer.logs())).toHaveLength(2);
    expect(world.adapterInbox.messages).toEqual([]);

    // The Internet side's clock moves 1.5 h on (as if time passed): within the tolerance now. The next
    // trip's cargo goes in, and each parcel reaches the adapter once.
    world.internetClockSkewMs = 1.5 * HOUR;
    await world.relayer.stop();
    await world.relayer.start();
    expect((await world.courier.run('user')).status).toBe(0);
    expect((await world.courier.run('relayer')).status).toBe(0);
    expect(cargoFiles(world, world.courier.toRelayer)).toEqual([]);
    await waitForAdapter(world, 2);
    expect(countOf(world.adapterInbox.contents())).toEqual(countOf(['tweet 1', 'tweet 2']));
    await waitFor("the app's PDA at the adapter", () => world.pdas.has(alice.app.id));
    expect(leftOut(world.relayer.logs())).toHaveLength(2); // none since

    // That trip also collected the relaying gateway's second notice: at the user's, the warning goes.
    expect((await world.courier.run('user')).status).toBe(0);
    await waitFor('the resolved clock status', () => clockStatus(world).internet?.status === 'resolved');
    expect(describeClockStatus(clockStatus(world))).toEqual([]);
  } finally {
    await world.close();
  }
});

test("user's clock 3 h behind: the Internet's parcels are left out at the user's computer, kept, and flow once it is right", async () => {
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
    expect({ status: atUser.status, stderr: atUser.stderr }).toEqual({
      status: 0,
      stderr: expect.stringMatching(/^relay: delivered 1 cargo /),
    });
    expect(cargoFiles(world, world.courier.toUser)).toEqual([]);
    const [refusal] = leftOut(world.userGateway.logs());
    expect(refusal.msg).toMatch(
      /^Parcels not taken: 1 parcel\(s\) in this cargo are dated 3\.0 h ahead of this computer's clock .* beyond the clock drift tolerance of 2\.0 h: is this computer's clock right\?/,
    );
    expect(describeClockStatus(clockStatus(world))).toEqual([
      expect.stringMatching(
        /^This computer's clock is at least 3\.0 h behind: .* its gateway did not take 1 message\(s\) from the Internet/,
      ),
    ]);
    await world.collect(alice.app, alice.inbox);
    expect(alice.inbox.messages).toEqual([]);

    // The user sets the clock closer to right (1.5 h behind: within the tolerance) and restarts the
    // gateway: the relaying gateway still has the reply (no PCA came), the next trip brings it once.
    world.userClockSkewMs = -1.5 * HOUR;
    await world.userGateway.stop();
    await world.userGateway.start();
    await world.courier.run('user');
    expect((await world.courier.run('relayer')).status).toBe(0);
    expect((await world.courier.run('user')).status).toBe(0);
    await world.collect(alice.app, alice.inbox);
    expect(alice.inbox.contents()).toEqual(['reply 1']);
    expect(clockStatus(world)).toEqual({}); // taken: the warning is gone
  } finally {
    await world.close();
  }
});

test("user's clock 3 days ahead, then set right: told while wrong, the early tweet is sent again and posts with a new one, the warning goes", async () => {
  const world = new World({ userClockSkewMs: 72 * HOUR });
  try {
    await world.start();
    writeFileSync(world.path('empty.env'), '');
    const first = await runApp(world, ['tweet', 'tweet 1']);
    expect(first).toMatchObject({ status: 0 });

    // The cargo (dated 69 h ahead) is taken, its two parcels (the subscription and the tweet) left out;
    // the CCA (70.5 h ahead) is honoured, so the relaying gateway's notice rides back on the same trip.
    expect((await world.courier.run('user')).status).toBe(0);
    expect((await world.courier.run('relayer')).status).toBe(0);
    expect(cargoFiles(world, world.courier.toRelayer)).toEqual([]);
    expect(leftOut(world.relayer.logs()).map((l) => l.msg)).toEqual([
      expect.stringMatching(
        /^Parcels not taken: 2 parcel\(s\) in this cargo are dated 72\.0 h ahead of this gateway's clock/,
      ),
    ]);
    expect(world.adapterInbox.messages).toEqual([]);
    expect((await world.courier.run('user')).status).toBe(0);
    await waitFor('the clock status', () => clockStatus(world).internet);
    // The user is told while the clock is wrong, by every app command.
    expect((await runApp(world, ['status'])).stderr).toMatch(
      /warning: This computer's clock is at least 72\.0 h ahead: /,
    );

    // The user sets the clock right. At once, the app stops saying it is ahead: it reads less than the
    // tolerance past the Internet's refusal, so it cannot be more ahead than that.
    world.userClockSkewMs = 0;
    await world.userGateway.stop();
    await world.userGateway.start();
    expect((await runApp(world, ['status'])).stderr).not.toMatch(/clock/);

    // The cargo the courier collected on the last stop was made while the clock was wrong: at the
    // relaying gateway its two parcels are left out again (a new notice, of no more weight for the app).
    expect(cargoFiles(world, world.courier.toRelayer)).toHaveLength(1);
    expect((await world.courier.run('relayer')).status).toBe(0);
    expect(leftOut(world.relayer.logs())).toHaveLength(2);

    // The relaying gateway then loses its queued notice, as a reset would: it will send no "resolved" one.
    await world.relayer.stop();
    await forgetClockNotices(world);
    await world.relayer.start();

    // A courier stop before the app runs again: the user gateway holds the two early parcels back (dated
    // 72 h ahead of its clock), so the relaying gateway finds nothing to leave out any more.
    // The cargo it brings back is refused for good, and the courier is told why: it is signed with the delivery
    // authorization the user gateway issued 72 h ahead, not valid yet by its clock (the relaying gateway keeps
    // what it held, and the relay sets the file aside).
    const refusedAtUser = await world.courier.run('user');
    expect(refusedAtUser.status).toBe(1);
    expect(refusedAtUser.stderr).toMatch(/refused by the gateway|Cargo refused/);
    expect(world.userGateway.logs().filter((l) => /^2 parcel\(s\) held back from cargo/.test(l.msg))).toHaveLength(1);
    expect((await runApp(world, ['status'])).stderr).not.toMatch(/clock/);
    await world.courier.run('relayer'); // only a CCA to present
    expect(leftOut(world.relayer.logs())).toHaveLength(2);

    // The app runs: it registers again (its certificate was issued 72 h ahead), renews the subscription,
    // sends tweet 1 again dated now (same ids: it replaces the held-back copy) and tweet 2.
    const second = await runApp(world, ['tweet', 'tweet 2']);
    expect(second).toMatchObject({ status: 0, stderr: expect.not.stringMatching(/clock/) });
    expect(second.stdout).toMatch(
      /Gave the user gateway 1 tweet made while this computer's clock was ahead, dated now: on its way/,
    );

    expect((await world.courier.run('user')).status).toBe(0);
    expect((await world.courier.run('relayer')).status).toBe(0);
    const tweets = () =>
      world.adapterInbox.messages.filter((m) => m.type === TWEET_TYPE).map((m) => decodeTweet(m.content).text);
    await waitFor('both tweets at the adapter', () => tweets().length >= 2);
    expect(countOf(tweets())).toEqual(countOf(['tweet 1', 'tweet 2']));
    expect(leftOut(world.relayer.logs())).toHaveLength(2);

    // The acknowledgements come back: the user gateway clears the warning (no "resolved" notice will come).
    expect((await world.courier.run('user')).status).toBe(0);
    await waitFor('the clock status cleared', () => Object.keys(clockStatus(world)).length === 0);
    expect((await runApp(world, ['status'])).stderr).not.toMatch(/clock/);

    // Another round trip: still nothing posted twice, nothing held back, nothing left on the flashdrive.
    expect((await world.courier.run('user')).status).toBe(0);
    expect([0, 3]).toContain((await world.courier.run('relayer')).status); // 3: only a CCA, nothing to collect
    expect(countOf(tweets())).toEqual(countOf(['tweet 1', 'tweet 2']));
    expect(world.userGateway.logs().filter((l) => /held back from cargo/.test(l.msg))).toHaveLength(1);
    expect(cargoFiles(world, world.courier.toRelayer)).toEqual([]);
  } finally {
    await world.close();
  }
});

/** bin/twitter-app at the user's computer (its clock), on the World's data root. */
function runApp(world: World, args: readonly string[]): Promise<ProcessResult> {
  return runProcess(
    join(REPO, 'bin', 'twitter-app'),
    ['--data-root', world.root, '--env-file', world.path('empty.env'), ...args],
    { cwd: world.root, env: skewedEnv(world.userClockSkewMs) },
  );
}

/** Delete the clock skew notices queued at the (stopped) relaying gateway for the user gateway. */
async function forgetClockNotices(world: World): Promise<void> {
  const userGatewayId = /user-gateway: node id (\S+)/.exec(world.userGateway.stdout)![1];
  const relayerId = /relayer-gateway: node id (\S+)/.exec(world.relayer.stdout)![1];
  const stores = openGatewaySqliteStores(world.path('relayer-gateway', 'gateway.sqlite'));
  try {
    const key = { queue: peerQueue(userGatewayId), senderId: relayerId, id: CLOCK_SKEW_REFUSED_PARCEL_ID };
    expect(await stores.parcels.delete(key)).toBe(true);
  } finally {
    await stores.close();
  }
}

async function waitForAdapter(world: World, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (world.adapterInbox.messages.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
}
