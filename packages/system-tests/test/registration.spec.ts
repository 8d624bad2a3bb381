/**
 * The first registration of the user gateway, with the real executables: what was queued before it is
 * sent after it, even when the user gateway dies between pinning the relaying gateway's certificate and
 * completing the registration; and, until it is registered, the relay says why nothing moves.
 * (The app's own message: packages/twitter-app/test/userGateway.ts; kill -9 at random points of the
 * registration: crash.spec.ts.)
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildExecutables, countOf, sleep, waitFor, World } from './world';

jest.setTimeout(90_000);

let world: World;
const hiddenRegistrationDir = mkdtempSync(join(tmpdir(), 'hidden-registration-'));

beforeAll(() => buildExecutables(), 120_000);

afterAll(async () => {
  await world?.close();
  rmSync(hiddenRegistrationDir, { recursive: true, force: true });
});

test('parcels queued before the first registration are sent after it, though the user gateway was killed after pinning', async () => {
  world = new World();
  await world.startAdapter();
  await world.userGateway.start();

  // No relaying gateway yet: the courier is told why there is nothing to carry.
  const early = await world.courier.run('user');
  expect(early.status).toBe(3);
  expect(early.stderr).toContain('relay: nothing to do (no cargo delivered or collected)\n');
  expect(early.stderr).toContain(
    'relay: the user gateway is not registered with its relaying gateway yet, so it can make no cargo: what it ' +
      `holds waits there. It registers by itself once the relaying gateway answers its request in ${world.path('registration')}: ` +
      'the relaying gateway must be running and reach that folder',
  );

  // The app's PDA and two messages wait in the queue named after the user gateway's own id.
  const alice = await world.openApp('alice');
  await alice.send('before registration 1');
  await alice.send('before registration 2');

  // A relaying gateway whose registration folder the user gateway does not see: it only publishes its
  // certificate, which the user gateway pins; then the user gateway dies.
  const unseen = await world.startRelayerUnseen(hiddenRegistrationDir);
  await world.userGateway.stop('SIGKILL');
  await unseen.stop();

  await world.relayer.start();
  await world.userGateway.start();
  await waitFor('the registration', () => existsSync(world.path('user-gateway', 'identity-certificate.pem')));

  for (let trip = 0; trip < 2 && world.adapterInbox.messages.length < 2; trip++) {
    const atUser = await world.courier.run('user');
    expect(atUser.stderr).not.toContain('not registered');
    await world.courier.run('relayer');
    for (let wait = 0; wait < 50 && world.adapterInbox.messages.length < 2; wait++) await sleep(100);
  }
  expect(countOf(world.adapterInbox.contents())).toEqual(countOf(['before registration 1', 'before registration 2']));
  expect(world.pdas.has(alice.app.id)).toBe(true);
});
